// The channel tab's configuration page: Teams shows it when SLT pin Chaperone to a channel.
(function () {
  "use strict";
  if (!window.microsoftTeams) return;
  microsoftTeams.app.initialize().then(function () {
    microsoftTeams.pages.config.registerOnSaveHandler(function (saveEvent) {
      var base = window.location.origin + "/tab";
      microsoftTeams.pages.config.setConfig({
        entityId: "chaperone-school-record",
        contentUrl: base + "/today",
        websiteUrl: base + "/today",
        suggestedDisplayName: "Chaperone"
      }).then(function () { saveEvent.notifySuccess(); });
    });
    microsoftTeams.pages.config.setValidityState(true);
  });
})();
