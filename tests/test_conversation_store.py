"""Where cards are sent: a conversation and a school's alert destination, read for sending, are
reused for a short while (a lesson start's cards read them three or four times in a second),
this instance's own changes are seen at once, another instance's after that while, and
"nowhere set" is never kept."""

from __future__ import annotations

import asyncio

from domain.conversations import AlertPurpose, SeenConversation
from store.conversations import ConversationStore

from .helpers import Statements, migrated

TTL = 0.5


def seen(conversation_id: str, service_url: str = "https://smba.trafficmanager.net/uk/") -> SeenConversation:
    return SeenConversation(conversation_id=conversation_id, scope="team", service_url=service_url, tenant_id="tenant-1",
                            reference={"conversation": {"id": conversation_id}, "serviceUrl": service_url}, channel_id=conversation_id)


async def test_a_conversation_read_for_sending_is_reused_and_this_instances_change_is_seen_at_once(any_database_url):
    async with migrated(any_database_url) as engine:
        here, elsewhere = ConversationStore(engine, sending_cache_seconds=TTL), ConversationStore(engine, sending_cache_seconds=TTL)
        await here.remember(seen("19:meeting"))
        statements = Statements(engine)
        first = await here.for_sending("19:meeting")
        again = await here.for_sending("19:meeting")
        assert first.service_url == again.service_url == "https://smba.trafficmanager.net/uk/"
        assert len(statements.starting("SELECT")) == 1, "read once, then reused"

        await here.remember(seen("19:meeting", "https://smba.trafficmanager.net/emea/"))
        assert (await here.for_sending("19:meeting")).service_url == "https://smba.trafficmanager.net/emea/"

        await elsewhere.remember(seen("19:meeting", "https://smba.trafficmanager.net/amer/"))
        assert (await here.for_sending("19:meeting")).service_url == "https://smba.trafficmanager.net/emea/", "kept for a while"
        await asyncio.sleep(TTL + 0.1)
        assert (await here.for_sending("19:meeting")).service_url == "https://smba.trafficmanager.net/amer/", "then read again"
        statements.close()


async def test_an_alert_destination_set_here_or_newly_set_elsewhere_is_used_at_once(any_database_url):
    async with migrated(any_database_url) as engine:
        here, elsewhere = ConversationStore(engine, sending_cache_seconds=60), ConversationStore(engine, sending_cache_seconds=60)
        for channel in ("19:slt-a", "19:slt-b", "19:dsl"):
            await here.remember(seen(channel))
        # Nothing set yet: not kept, so a destination set on another instance is used at once.
        assert await here.destination_for_sending(AlertPurpose.slt, "school-a") is None
        await elsewhere.set_alert_destination(AlertPurpose.slt, "19:slt-a", "admin-1", "Admin", school_id="school-a")
        assert (await here.destination_for_sending(AlertPurpose.slt, "school-a")).conversation.conversation_id == "19:slt-a"

        # Changed here: the next send goes to the new channel.
        await here.set_alert_destination(AlertPurpose.slt, "19:slt-b", "admin-1", "Admin", school_id="school-a")
        assert (await here.destination_for_sending(AlertPurpose.slt, "school-a")).conversation.conversation_id == "19:slt-b"
        # Each school's and each purpose's own.
        assert await here.destination_for_sending(AlertPurpose.dsl, "school-a") is None
        assert await here.destination_for_sending(AlertPurpose.slt, "school-b") is None

        # The destination's conversation moved (a new serviceUrl) on this instance: seen at once.
        await here.remember(seen("19:slt-b", "https://smba.trafficmanager.net/emea/"))
        destination = await here.destination_for_sending(AlertPurpose.slt, "school-a")
        assert destination.conversation.service_url == "https://smba.trafficmanager.net/emea/"


async def test_an_uninstalled_conversation_is_read_again(any_database_url):
    async with migrated(any_database_url) as engine:
        store = ConversationStore(engine, sending_cache_seconds=60)
        await store.remember(seen("19:meeting").model_copy(update={"installing": True}))
        assert (await store.for_sending("19:meeting")).installed
        await store.uninstalled("19:meeting")
        assert not (await store.for_sending("19:meeting")).installed


async def test_a_conversation_seen_again_is_written_in_one_statement_keeping_what_it_did_not_say(any_database_url):
    # A meeting chat is remembered at every lesson start: one upsert, not a locked read and a write.
    async with migrated(any_database_url) as engine:
        store = ConversationStore(engine)
        first = await store.remember(seen("19:meeting"))
        assert (first.installed, first.tenant_id, first.channel_id) == (False, "tenant-1", "19:meeting")
        statements = Statements(engine)
        # Seen again from an activity that names neither tenant nor channel, at another serviceUrl.
        again = await store.remember(SeenConversation(conversation_id="19:meeting", scope="team", service_url="https://smba.trafficmanager.net/emea/", tenant_id=None,
                                                      reference={"conversation": {"id": "19:meeting"}}))
        writes = [s for s in statements.seen if not s.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))]
        statements.close()
        assert len(writes) == 1 and writes[0].startswith("INSERT"), writes
        assert (again.service_url, again.tenant_id, again.channel_id, again.installed) == (
            "https://smba.trafficmanager.net/emea/", "tenant-1", "19:meeting", False)
        stored = await store.get("19:meeting")
        assert stored.service_url == "https://smba.trafficmanager.net/emea/" and stored.tenant_id == "tenant-1"
        assert stored.reference == {"conversation": {"id": "19:meeting"}}

        # An install of a conversation first seen through an activity marks it installed (and new).
        installing = seen("19:meeting").model_copy(update={"installing": True, "installed_by": "aad-admin"})
        installed = await store.remember(installing)
        assert installed.installed and installed.newly_installed


async def test_a_conversation_this_instance_has_just_written_is_sent_to_without_reading_it_back(any_database_url):
    async with migrated(any_database_url) as engine:
        store = ConversationStore(engine)
        written = await store.remember(seen("19:meeting"))
        statements = Statements(engine)
        store.keep_for_sending(written)
        kept = await store.for_sending("19:meeting")
        statements.close()
        assert kept.service_url == written.service_url and not statements.seen
        # Changed since (here): read again, as before.
        await store.remember(seen("19:meeting", "https://smba.trafficmanager.net/amer/"))
        assert (await store.for_sending("19:meeting")).service_url == "https://smba.trafficmanager.net/amer/"
