"""A member of staff's one-to-one Teams chats (Chat.ReadBasic.All): who, when, never what.

Only read when the school turns the staff-pupil-chats report on, after its DPIA.
"""

from __future__ import annotations

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.chat import Chat
from msgraph.generated.users.item.chats.chats_request_builder import ChatsRequestBuilder

from domain.chats import ChatMember, ChatSummary

from .client import GraphClient


def _summary(chat: Chat) -> ChatSummary:
    members = []
    for member in chat.members or []:
        user_id = getattr(member, "user_id", None)
        if user_id:
            members.append(ChatMember(aad_object_id=user_id, name=member.display_name))
    return ChatSummary(chat_id=chat.id, created=chat.created_date_time, last_activity=chat.last_updated_date_time, members=tuple(members))


class ChatReader:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def one_to_one_chats(self, user_id: str) -> list[ChatSummary]:
        query = ChatsRequestBuilder.ChatsRequestBuilderGetQueryParameters(filter="chatType eq 'oneOnOne'", expand=["members"], top=50)
        page = await self._graph.call(
            "chats", lambda sdk: sdk.users.by_user_id(user_id).chats.get(request_configuration=RequestConfiguration(query_parameters=query))
        )
        chats: list[ChatSummary] = []
        while page is not None:
            chats += [_summary(c) for c in page.value or []]
            next_link = page.odata_next_link
            page = None
            if next_link:
                page = await self._graph.call("chats", lambda sdk: sdk.users.by_user_id(user_id).chats.with_url(next_link).get())
        return chats
