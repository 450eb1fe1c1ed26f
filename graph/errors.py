"""What a Graph question that could not be answered says, worded for the IT lead who has to
fix it. Callers record it as 'could not verify'; they never treat a failure as a pass."""

from __future__ import annotations

from msgraph.generated.models.o_data_errors.o_data_error import ODataError

REASONS = {
    401: "Graph refused Chaperone's token (check the app registration's secret or certificate)",
    403: "Graph denied access (admin consent for the application permission, or the Teams "
    "application access policy for this organizer, is missing)",
    404: "Graph has no such object",
    429: "Graph is throttling Chaperone",
    503: "Graph is unavailable",
    504: "Graph timed out",
}

# Graph's error body, read as the SDK's own request builders read it: its message ("No
# application access policy found for this app.") is part of the reason recorded.
GRAPH_ERRORS = {"XXX": ODataError}


class GraphUnavailable(RuntimeError):
    """A Graph question that could not be answered, with why."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    def about(self, what: str) -> "GraphUnavailable":
        """The same failure, said of one question ("meeting settings: Graph is throttling ...")."""
        return GraphUnavailable(f"{what}: {self.reason}", self.status)
