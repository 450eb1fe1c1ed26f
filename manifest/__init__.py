"""The Teams app package: the manifest template, Chaperone's icons, and the packaging step."""
