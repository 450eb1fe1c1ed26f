"""The tab's HTTP routes.

`/tab/...` answers every page with the same shell (no data in it); the shell's script gets a
token (Teams single sign-on, or dev mode's visible sign-in) and fetches the page's content from
`/tab/api/...` with it as a bearer token. No cookies: a tab is framed by Teams, where
third-party cookies are not dependable, and a bearer token makes cross-site requests harmless.
Every `/tab/api/` request is checked here: the token, then who may see what (tab/access.py).
Refusals and downloads are written to the audit log.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import date, datetime, timezone
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from domain.records import ConcernStatus, ExportKind, RegisterFilter, Verdict
from store.records import WHOLE

from . import page_aup, page_concerns, page_exceptions, page_lesson, page_register, page_review, page_today, page_trust
from .access import PAGE_TITLES, Page, SchoolRefused, Viewer, viewer_for
from .context import Ctx, TabServices
from .csv_export import CsvExport, cell
from .html import e, query
from .settings import DEV_RESOURCE
from .tokens import DevSigner, EntraKeys, Refusal, SignedInUser, TokenRefused, TokenValidator

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"tab.css": "text/css", "tab.js": "text/javascript", "configure.js": "text/javascript",
                "vendor/MicrosoftTeams.min.js": "text/javascript"}

# Teams and Microsoft 365 hosts that frame tabs (public cloud, GCC, GCC High, DoD): nothing else
# may frame the pages.
FRAME_ANCESTORS = ("https://teams.microsoft.com", "https://*.teams.microsoft.com", "https://teams.cloud.microsoft",
                   "https://*.cloud.microsoft", "https://*.office.com", "https://*.office365.com", "https://*.microsoft365.com",
                   "https://outlook.office.com", "https://*.skype.com", "https://*.teams.microsoft.us",
                   "https://gov.teams.microsoft.us", "https://dod.teams.microsoft.us")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors " + " ".join(FRAME_ANCESTORS))
MAX_PAGE_DAYS = 400  # a page (not a download) shows at most a school year and a term


@web.middleware
async def security_headers(request: web.Request, handler):
    response = await handler(request)
    if request.path == "/tab" or request.path.startswith("/tab/"):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith("/tab/static/"):
            response.headers["Cache-Control"] = "no-store"
    return response


class Tab:
    def __init__(self, services: TabServices, validator: TokenValidator, dev: DevSigner | None) -> None:
        self.services = services
        self._validator = validator
        self._dev = dev
        self._csv = CsvExport(services.records, services.exports)

    @classmethod
    def dev_validator(cls, tenant_id: str) -> tuple[TokenValidator, DevSigner]:
        dev = DevSigner(tenant_id, DEV_RESOURCE)
        return TokenValidator(dev, audiences={DEV_RESOURCE}, tenant_id=tenant_id), dev

    # ---- who is asking ----------------------------------------------------------------------

    async def viewer(self, request: web.Request, school: str | None = None, *, of_lesson: bool = False) -> Viewer:
        """Who is asking, at which school (`school`, else the `school=` asked for, else their first).
        `of_lesson`: the school is a lesson's, which a refusal must not name (nor confirm the lesson)."""
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            user = await self._validator.validate(token)
        except TokenRefused as refused:
            log.info("tab: token refused (%s) for %s", refused.refusal.name, request.path)
            await self.services.actions.record("anonymous", None, "tab.refused", request.path, {"reason": refused.refusal.value})
            raise web.HTTPUnauthorized(text=fragment_message("Chaperone could not confirm who you are.", refused.refusal.value),
                                       content_type="text/html") from None
        schools = self.services.schools
        known_staff = await self.services.records.is_staff(user.aad_object_id)
        taught_in = await self.services.records.schools_taught(user.aad_object_id) if schools.is_trust else []
        wanted = school or request.query.get("school") or None
        try:
            return viewer_for(user, schools, known_staff, taught_in, wanted)
        except SchoolRefused as refused:
            # Nothing of that school is read: the answer says only that it is not theirs to see.
            why = f"school {refused.school_id!r} is {'not one of yours' if refused.known else 'not a school of this deployment'}"
            log.info("tab: %s refused %s (%s)", user.aad_object_id, request.path, "forbidden school" if refused.known else "unknown school")
            await self.services.actions.record(user.aad_object_id, user.name, "tab.refused", request.path, {"reason": why})
            error = web.HTTPForbidden if refused.known else web.HTTPNotFound
            if of_lesson:
                raise web.HTTPForbidden(text=fragment_message("You do not have access to this."), content_type="text/html") from None
            words = "You do not have access to this school's record." if refused.known else "There is no such school here."
            raise error(text=fragment_message(words, why), content_type="text/html") from None

    async def refuse(self, viewer: Viewer, request: web.Request, why: str) -> web.HTTPForbidden:
        log.info("tab: %s refused %s (%s)", viewer.aad_object_id, request.path, why)
        await self.services.actions.record(viewer.aad_object_id, viewer.name, "tab.refused", request.path, {"reason": why},
                                           school_id=viewer.school_id)
        return web.HTTPForbidden(text=nav(viewer, None) + fragment_message("You do not have access to this.", why), content_type="text/html")

    async def acting(self, request: web.Request, page: Page) -> tuple[Viewer, Ctx]:
        """`page`, for a change to the record: refused to a trust lead who may only read."""
        viewer, ctx = await self.page(request, page)
        if not viewer.may_act:
            raise await self.refuse(viewer, request, f"{viewer.role_label} may read {page.value} but not change it")
        return viewer, ctx

    async def page(self, request: web.Request, page: Page, school: str | None = None, *, of_lesson: bool = False) -> tuple[Viewer, Ctx]:
        viewer = await self.viewer(request, school, of_lesson=of_lesson)
        if not viewer.may_open(page):
            raise await self.refuse(viewer, request, f"{viewer.role_label} may not open {page.value}")
        return viewer, Ctx(self.services, viewer, datetime.now(timezone.utc))

    # ---- pages ------------------------------------------------------------------------------

    async def today(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.today)
        on = _date(request.query.get("date")) or ctx.now.astimezone(ctx.policy.school.zone).date()
        body = await page_today.render(ctx, on)
        return html(viewer, Page.today, "Today", body, refresh=self.services.settings.refresh_seconds)

    async def lesson(self, request: web.Request) -> web.Response:
        try:
            lesson_id = int(request.match_info["lesson_id"])
        except ValueError:
            raise web.HTTPNotFound(text=fragment_message("No such lesson."), content_type="text/html") from None
        # A lesson is shown as the record of its own school (in a trust): someone who may not
        # see that school is refused, without its title or anything else of it.
        school = await self.services.records.lesson_school(lesson_id) if self.services.schools.is_trust else None
        viewer, ctx = await self.page(request, Page.lesson, school, of_lesson=school is not None)
        # A teacher asking for a lesson that is not theirs gets the same answer whether it exists
        # or not: the register does not confirm that someone else's lesson happened.
        if not viewer.whole_school and not await self.services.records.may_see(lesson_id, viewer.scope):
            raise await self.refuse(viewer, request, f"lesson {lesson_id} is not one {viewer.role_label} organised or attended")
        lesson = await self.services.records.lesson(lesson_id, viewer.scope)
        if lesson is None:
            raise web.HTTPNotFound(text=nav(viewer, None) + fragment_message("No such lesson."), content_type="text/html")
        return html(viewer, Page.lesson, None, await page_lesson.render(ctx, lesson))

    def _register_filter(self, request: web.Request, ctx: Ctx, *, page: bool) -> RegisterFilter:
        today = ctx.now.astimezone(ctx.policy.school.zone).date()
        default = page_register.default_filter(today)
        q = request.query
        start, end = _date(q.get("from")) or default.start, _date(q.get("to")) or default.end
        if end < start:
            raise web.HTTPBadRequest(text=fragment_message("The end date is before the start date."), content_type="text/html")
        if page and (end - start).days > MAX_PAGE_DAYS:
            raise web.HTTPBadRequest(text=fragment_message(f"Show at most {MAX_PAGE_DAYS} days here; the CSV download has no limit."),
                                     content_type="text/html")
        try:
            verdict = Verdict(q["verdict"]) if q.get("verdict") else None
        except ValueError:
            raise web.HTTPBadRequest(text=fragment_message("Unknown verdict."), content_type="text/html") from None
        return RegisterFilter(start=start, end=end, teacher=q.get("teacher") or None, class_label=q.get("class") or None, verdict=verdict)

    async def register(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.register)
        return html(viewer, Page.register, "Register", await page_register.render(ctx, self._register_filter(request, ctx, page=True)))

    async def register_csv(self, request: web.Request) -> web.StreamResponse:
        viewer, ctx = await self.page(request, Page.register)
        return await self._stream(request, ctx, ExportKind.lessons, self._register_filter(request, ctx, page=False), "register.csv")

    async def export(self, request: web.Request) -> web.StreamResponse:
        viewer, ctx = await self.page(request, Page.register)
        try:
            kind = ExportKind(request.match_info["kind"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if not viewer.may_export(kind):
            raise await self.refuse(viewer, request, f"{viewer.role_label} may not download {kind.value}")
        return await self._stream(request, ctx, kind, self._register_filter(request, ctx, page=False), f"{kind.value}.csv")

    async def _stream(self, request: web.Request, ctx: Ctx, kind: ExportKind, filt: RegisterFilter, filename: str) -> web.StreamResponse:
        viewer = ctx.viewer
        # The trust's leads, looking at the trust's own record, also get the audit entries of no school.
        unowned = viewer.is_lead and viewer.school_id == self.services.schools.default.school.id
        response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                               "Content-Disposition": f'attachment; filename="{filename}"'})
        await response.prepare(request)
        counter = [0]
        try:
            async for chunk in self._csv.chunks(kind, filt, ctx.policy, viewer.scope, counter, unowned_audit=unowned):
                await response.write(chunk.encode("utf-8"))
        finally:
            await self.services.actions.record(viewer.aad_object_id, viewer.name, "tab.download", f"export:{kind.value}", {
                **json.loads(filt.model_dump_json()), "rows": counter[0], "scope": "school" if viewer.whole_school else "own lessons",
                **({"school": viewer.school_id} if viewer.school_id else {})}, school_id=viewer.school_id)
        await response.write_eof()
        return response

    async def aup(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.aup)
        return html(viewer, Page.aup, "Staff AUP", await page_aup.render(ctx))

    async def aup_csv(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.aup)
        rows = await page_aup.csv_rows(ctx)
        await self.services.actions.record(viewer.aad_object_id, viewer.name, "tab.download", "export:aup", {"rows": len(rows)},
                                           school_id=viewer.school_id)
        return csv_response("staff-aup.csv", ("name", "entra_object_id", "version", "signed_at", "position"), rows, ctx.policy.school.zone)

    async def exceptions(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.exceptions)
        return html(viewer, Page.exceptions, "Exceptions", await page_exceptions.render(ctx))

    async def exception_add(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.acting(request, Page.exceptions)
        data = {k: str(v) for k, v in (await request.post()).items()}
        ok, words = await page_exceptions.add(ctx, data)
        body = await page_exceptions.render(ctx, done=words) if ok else await page_exceptions.render(ctx, message=words, values=data)
        return html(viewer, Page.exceptions, "Exceptions", body, status=200 if ok else 400)

    async def exception_withdraw(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.acting(request, Page.exceptions)
        try:
            exception_id = int(request.match_info["exception_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        ok, words = await page_exceptions.withdraw(ctx, exception_id)
        body = await page_exceptions.render(ctx, done=words) if ok else await page_exceptions.render(ctx, message=words)
        return html(viewer, Page.exceptions, "Exceptions", body, status=200 if ok else 400)

    async def concerns(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.concerns)
        return html(viewer, Page.concerns, "Concerns", await page_concerns.render(ctx))

    async def concern_review(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.acting(request, Page.concerns)
        try:
            concern_id = int(request.match_info["concern_id"])
            status = ConcernStatus(request.match_info["status"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if status is ConcernStatus.new:
            raise web.HTTPBadRequest(text=fragment_message("A concern cannot be marked new again."), content_type="text/html")
        note = str((await request.post()).get("note", "")).strip()[:2000] or None
        if status is ConcernStatus.closed and not note:
            raise web.HTTPBadRequest(text=fragment_message("Closing a concern needs a note."), content_type="text/html")
        if not await self.services.actions.review_concern(concern_id, status, viewer.aad_object_id, viewer.name, note,
                                                          school_id=viewer.school_id):
            raise web.HTTPNotFound(text=fragment_message("No such concern."), content_type="text/html")
        return html(viewer, Page.concerns, "Concerns", await page_concerns.render(ctx, done=f"Concern #{concern_id} marked {status.value}."))

    def _review_range(self, request: web.Request, ctx: Ctx) -> tuple[date, date]:
        start, end = page_review.default_range(ctx.now.astimezone(ctx.policy.school.zone).date())
        start, end = _date(request.query.get("from")) or start, _date(request.query.get("to")) or end
        if end < start or (end - start).days > 3 * 366:
            raise web.HTTPBadRequest(text=fragment_message("Choose a period of at most three years, start before end."), content_type="text/html")
        return start, end

    async def review(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.review)
        start, end = self._review_range(request, ctx)
        return html(viewer, Page.review, "Review", await page_review.render(ctx, start, end))

    async def review_csv(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.review)
        start, end = self._review_range(request, ctx)
        rows = await page_review.csv_rows(ctx, start, end)
        await self.services.actions.record(viewer.aad_object_id, viewer.name, "tab.download", "export:review",
                                           {"from": start.isoformat(), "to": end.isoformat(), "rows": len(rows)}, school_id=viewer.school_id)
        return csv_response("review.csv", ("month", "measure", "item", "value"), rows, ctx.policy.school.zone)

    def _trust_range(self, request: web.Request, ctx: Ctx) -> tuple[date, date]:
        start, end = page_trust.default_range(ctx.now.astimezone(ctx.policy.school.zone).date())
        start, end = _date(request.query.get("from")) or start, _date(request.query.get("to")) or end
        if end < start or (end - start).days > 3 * 366:
            raise web.HTTPBadRequest(text=fragment_message("Choose a period of at most three years, start before end."), content_type="text/html")
        return start, end

    async def trust(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.trust)
        start, end = self._trust_range(request, ctx)
        return html(viewer, Page.trust, self.services.schools.name, await page_trust.render(ctx, start, end))

    async def trust_csv(self, request: web.Request) -> web.Response:
        viewer, ctx = await self.page(request, Page.trust)
        start, end = self._trust_range(request, ctx)
        rows = await page_trust.csv_rows(ctx, start, end)
        await self.services.actions.record(viewer.aad_object_id, viewer.name, "tab.download", "export:trust",
                                           {"from": start.isoformat(), "to": end.isoformat(), "rows": len(rows)})
        return csv_response("trust.csv", page_trust.CSV_COLUMNS, rows, ctx.policy.school.zone)

    # ---- dev mode's sign-in -------------------------------------------------------------------

    async def dev_people(self, request: web.Request) -> web.Response:
        if self._dev is None:
            raise web.HTTPNotFound()
        schools = self.services.schools
        people, seen = [], set()
        for lead in schools.leads:
            seen.add(lead.aad_object_id)
            people.append({"id": lead.aad_object_id, "name": lead.name, "role": "trust lead" if lead.acts else "trust lead, read-only"})
        for policy in schools.all_policies():
            where = f" ({policy.school.name})" if schools.is_trust else ""
            for role, group in (("SLT", policy.people.slt), ("DSL", policy.people.dsl)):
                for p in group:
                    if p.aad_object_id not in seen:
                        seen.add(p.aad_object_id)
                        roles = [r for r, g in (("SLT", policy.people.slt), ("DSL", policy.people.dsl)) if any(x.aad_object_id == p.aad_object_id for x in g)]
                        people.append({"id": p.aad_object_id, "name": p.name, "role": " and ".join(roles) + where})
        # Teachers from the register too, so dev mode can show a teacher's own view.
        for aad, name in await self.services.records.organizers(WHOLE):
            if aad not in seen:
                seen.add(aad)
                people.append({"id": aad, "name": name, "role": "teacher"})
        return web.json_response({"people": people})

    async def dev_sign_in(self, request: web.Request) -> web.Response:
        if self._dev is None:
            raise web.HTTPNotFound()
        wanted = str((await request.post()).get("id", ""))
        people = {p["id"]: p for p in json.loads((await self.dev_people(request)).text)["people"]}
        if wanted not in people:
            raise web.HTTPBadRequest(text="Choose one of the people listed.")
        return web.json_response({"token": self._dev.token(wanted, people[wanted]["name"]), "name": people[wanted]["name"],
                                  "role": people[wanted]["role"]})

    # ---- the shell and its files --------------------------------------------------------------

    async def shell(self, request: web.Request) -> web.Response:
        tail = request.match_info.get("tail", "")
        if tail.startswith(("api/", "static/")):
            raise web.HTTPNotFound()
        return web.Response(text=shell_page(self.services.schools.name, dev=self._dev is not None), content_type="text/html")

    async def configure(self, request: web.Request) -> web.Response:
        return web.Response(text=configure_page(), content_type="text/html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.Response(body=(STATIC / name).read_bytes(), content_type=STATIC_FILES[name],
                            headers={"Cache-Control": "public, max-age=300"})


ROUTES = (
    ("GET", "/tab/api/today", "today"),
    ("GET", "/tab/api/lesson/{lesson_id}", "lesson"),
    ("GET", "/tab/api/register", "register"),
    ("GET", "/tab/api/register.csv", "register_csv"),
    ("GET", "/tab/api/aup", "aup"),
    ("GET", "/tab/api/aup.csv", "aup_csv"),
    ("GET", "/tab/api/exceptions", "exceptions"),
    ("POST", "/tab/api/exceptions", "exception_add"),
    ("POST", "/tab/api/exceptions/{exception_id}/withdraw", "exception_withdraw"),
    ("GET", "/tab/api/concerns", "concerns"),
    ("POST", "/tab/api/concerns/{concern_id}/{status}", "concern_review"),
    ("GET", "/tab/api/review", "review"),
    ("GET", "/tab/api/review.csv", "review_csv"),
    ("GET", "/tab/api/trust", "trust"),
    ("GET", "/tab/api/trust.csv", "trust_csv"),
    ("GET", "/tab/api/export/{kind}.csv", "export"),
    ("GET", "/tab/api/dev/people", "dev_people"),
    ("POST", "/tab/api/dev/sign-in", "dev_sign_in"),
    ("GET", "/tab/static/{name:.+}", "static"),
    ("GET", "/tab/configure", "configure"),
    ("GET", "/tab", "shell"),
    ("GET", "/tab/{tail:.*}", "shell"),
)


def install(app: web.Application, tab_of: Callable[[web.Request], Tab]) -> None:
    """Add the tab's routes and headers to `app`. The Tab is built with the app's services at
    start-up, after the routes are fixed, so each route looks it up per request."""
    app.middlewares.append(security_headers)

    def route(name: str):
        async def handle(request: web.Request) -> web.StreamResponse:
            return await getattr(tab_of(request), name)(request)
        return handle

    for method, path, name in ROUTES:
        app.router.add_route(method, path, route(name))


class SsoNotConfigured:
    """The key source when neither Teams SSO nor dev mode is set up: every token is refused."""

    async def key(self, kid: str) -> object | None:
        raise TokenRefused(Refusal.keys_unavailable)

    async def issuers(self) -> set[str]:
        return set()


def build_tab(*, http: aiohttp.ClientSession, services: TabServices) -> Tab:
    """The tab, with the token check its settings call for: Entra's keys for the school's
    tenant (Teams SSO), dev mode's own sign-in, or (neither configured) nothing accepted."""
    settings, policy = services.settings, services.policy
    # A trust in one tenant (the usual case) signs everyone in from it; its default policy's tenant otherwise.
    tenants = services.schools.tenants
    tenant = (next(iter(tenants)) if len(tenants) == 1 else policy.school.tenant_id) or ""
    if settings.dev_sign_in:
        validator, dev = Tab.dev_validator(tenant)
        return Tab(services, validator, dev)
    if settings.sso_configured and tenant:
        keys = EntraKeys(http, settings.metadata_url(tenant), tenant)
        return Tab(services, TokenValidator(keys, audiences={settings.resource, settings.app_id}, tenant_id=tenant), None)
    log.warning("the tab needs MicrosoftAppId, CHAPERONE_PUBLIC_URL and [school] tenant_id for Teams single sign-on; it refuses everyone until then")
    return Tab(services, TokenValidator(SsoNotConfigured(), audiences={"-"}, tenant_id=tenant or "-"), None)


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise web.HTTPBadRequest(text=fragment_message(f"{value!r} is not a date (YYYY-MM-DD)."), content_type="text/html") from None


def nav(viewer: Viewer, current: Page | None) -> str:
    school = {"school": viewer.school_id} if len(viewer.schools) > 1 and current is not Page.trust else {}
    links = "".join(
        f'<a href="{e(query(f"/tab/{p.value}", school if p is not Page.trust else {}))}" data-nav{" aria-current=page" if p is current else ""}>{e(title)}</a>'
        for p, title in PAGE_TITLES.items() if viewer.may_open(p))
    return (f'<nav class="tabs no-print" aria-label="Chaperone">{links}</nav>'
            f'<p class="whoami no-print">Signed in as <strong data-viewer>{e(viewer.name)}</strong> ({e(viewer.role_label)})</p>'
            + school_picker(viewer, current))


def school_picker(viewer: Viewer, current: Page | None) -> str:
    """The school shown, and (for someone with more than one) the others to choose from. Not on a
    lesson's page (a lesson is its own school's) nor the trust view (every school at once)."""
    if not viewer.schools or current in (None, Page.lesson, Page.trust):
        return ""
    shown = next((c for c in viewer.schools if c.id == viewer.school_id), None)
    if len(viewer.schools) == 1:
        return f'<p class="school-shown no-print" data-school="{e(viewer.school_id)}">{e(shown.name if shown else viewer.school_id)}</p>'
    options = "".join(f'<option value="{e(c.id)}"{" selected" if c.id == viewer.school_id else ""}>{e(c.name)}</option>' for c in viewer.schools)
    return (f'<form class="filters school-picker no-print" data-get data-keep action="/tab/{e(current.value)}" data-school="{e(viewer.school_id)}">'
            f'<label>School <select name="school">{options}</select></label><button type="submit">Show</button></form>')


def html(viewer: Viewer, page: Page, title: str | None, body: str, *, status: int = 200, refresh: int | None = None) -> web.Response:
    heading = f'<h1 data-title="{e(title)}">{e(title)}</h1>' if title else ""
    attrs = f' data-refresh="{refresh}"' if refresh else ""
    return web.Response(text=f'{nav(viewer, page)}<div class="page page-{page.value}"{attrs}>{heading}{body}</div>',
                        content_type="text/html", status=status)


def fragment_message(text: str, detail: str | None = None) -> str:
    more = f'<p class="muted">({e(detail)})</p>' if detail else ""
    return f'<div class="page"><h1 data-title="Chaperone">Chaperone</h1><p class="notice" role="alert">{e(text)}</p>{more}</div>'


def csv_response(filename: str, header: tuple[str, ...], rows: list[tuple], zone) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v, zone) for v in row])
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def shell_page(school: str, *, dev: bool) -> str:
    return (
        "<!doctype html><html lang='en-GB'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Chaperone · {e(school)}</title><link rel='stylesheet' href='/tab/static/tab.css'>"
        "<script src='/tab/static/vendor/MicrosoftTeams.min.js'></script><script src='/tab/static/tab.js' defer></script></head>"
        f"<body data-dev-sign-in='{1 if dev else 0}'>"
        f"<header class='app-header'><span class='app-name'>Chaperone</span><span class='school'>{e(school)}</span></header>"
        "<div id='dev-banner' class='dev-banner' hidden></div>"
        "<main id='main' aria-live='polite'><p class='muted'>Loading…</p></main>"
        "</body></html>"
    )


def configure_page() -> str:
    return (
        "<!doctype html><html lang='en-GB'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Chaperone tab</title>"
        "<link rel='stylesheet' href='/tab/static/tab.css'>"
        "<script src='/tab/static/vendor/MicrosoftTeams.min.js'></script><script src='/tab/static/configure.js' defer></script></head>"
        "<body><main id='main'><h1>Chaperone</h1><p>Pin the school's record to this channel: Today's lessons, the register, "
        "exceptions and the review. Only SLT and the DSL see the whole school; everyone else sees only their own lessons.</p>"
        "<p>Select <strong>Save</strong> to add the tab.</p></main></body></html>"
    )


__all__ = ["Tab", "build_tab", "install", "SignedInUser"]
