"""Everything that speaks Microsoft Graph, through msgraph-sdk. Returns Chaperone's own
models (domain/), never SDK objects."""
