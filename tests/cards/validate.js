// Parse and validate Adaptive Card JSON files with Microsoft's renderer (npm adaptivecards).
// Prints {"file": ["problem", ...], ...}: parse events (unknown types, bad values) and
// validation failures (e.g. required inputs without an error message).
const fs = require("fs");
const AC = require("adaptivecards/dist/adaptivecards.js");

function problems(json) {
  const found = [];
  const context = new AC.SerializationContext();
  context.targetVersion = new AC.Version(1, 5);
  const card = new AC.AdaptiveCard();
  card.parse(json, context);
  const describe = (e) => `${AC.ValidationPhase[e.phase]} ${AC.ValidationEvent[e.event]}: ${e.message}`;
  for (let i = 0; i < context.eventCount; i++) found.push(describe(context.getEventAt(i)));
  for (const e of card.validateProperties().validationEvents) found.push(describe(e));
  return found;
}

const report = {};
for (const file of process.argv.slice(2)) {
  report[file] = problems(JSON.parse(fs.readFileSync(file, "utf8")));
}
console.log(JSON.stringify(report));
