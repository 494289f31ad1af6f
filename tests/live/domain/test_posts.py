"""Media posts without a server: who may post, links, cards, the objects a line shows, the
slow-mode clock, and how the room's feed shows the groups' media arriving."""

from __future__ import annotations

import json

import pytest

from services.live.adapters.room_feed import RoomFeed, RoomState
from services.live.domain.chat import Refused
from services.live.domain.chat_to_buy import external_claim, may_be_claim
from services.live.domain.moderation import Allowed, Blocked, RoomRules, Standing, check_link
from services.live.domain.posts import (
    compose_post,
    is_media_name,
    may_post_media,
    product_card,
    stored_names,
)
from services.live.domain.ratelimit import LastPosts
from services.live.domain.viewers import Role, Viewer
from services.live.service_layer.posts import Posted
from shared.events import (
    ChatMediaFetched,
    ChatMessageDeleted,
    ChatMessagePosted,
    RoomRulesChanged,
)
from shared.events.media import (
    ImageAttachment,
    ImageSizes,
    LinkAttachment,
    PendingAttachment,
    ProductAttachment,
    VoiceAttachment,
)

A, B, C, D = ("a" * 64 + ".jpg", "b" * 64 + ".jpg", "c" * 64 + ".jpg", "d" * 64 + ".webm")
SIZES = ImageSizes(thumb=A, card=B, full=C, width=1600, height=1200)
LILY = Viewer(room_id="r_1", customer_id="web:lily", display_name="Lily")


@pytest.mark.parametrize(
    ("role", "members_post_media", "allowed"),
    [
        (Role.HOST, False, True),
        (Role.MODERATOR, False, True),
        (Role.COMMITTEE, False, False),
        (Role.MEMBER, False, False),
        (Role.COMMITTEE, True, True),
        (Role.MEMBER, True, True),
    ],
)
def test_who_may_post_media(role: Role, members_post_media: bool, allowed: bool) -> None:
    refused = may_post_media(role, RoomRules(members_post_media=members_post_media))
    assert (refused is None) is allowed
    if refused is not None:
        assert refused.code == "media_not_allowed"


def test_links_follow_block_links_and_the_blocked_words_for_members_only() -> None:
    url = "https://shop.example/cheap-deal"
    assert check_link(RoomRules(), Role.HOST, url) == Allowed()
    assert check_link(RoomRules(), Role.MODERATOR, url) == Allowed()
    assert isinstance(check_link(RoomRules(), Role.MEMBER, url), Blocked)
    assert check_link(RoomRules(block_links=False), Role.MEMBER, url) == Allowed()
    words = RoomRules(block_links=False, blocked_words=("Cheap",))
    blocked = check_link(words, Role.COMMITTEE, url)
    assert isinstance(blocked, Blocked) and blocked.rule == "blocked_word"
    assert check_link(words, Role.HOST, url) == Allowed()


def test_stored_rules_read_members_post_media_and_default_it_off() -> None:
    assert RoomRules.from_dict({}).members_post_media is False
    assert RoomRules.from_dict({"members_post_media": True}).members_post_media is True


def test_a_post_is_a_chat_line_whose_text_is_its_caption() -> None:
    line = compose_post(LILY, "  Fresh\r\n\r\n\r\ncherries\u200b  ", ImageAttachment(image=SIZES))
    assert isinstance(line, ChatMessagePosted)
    assert (line.text, line.source, line.customer_id) == ("Fresh\n\ncherries", "web", "web:lily")
    assert line.attachment == ImageAttachment(image=SIZES)
    empty = compose_post(LILY, "", LinkAttachment(url="https://example.com"))
    assert isinstance(empty, ChatMessagePosted) and empty.text == ""
    assert compose_post(LILY, "x" * 501, ImageAttachment(image=SIZES)) == Refused(
        "too_long", "Captions are limited to 500 characters."
    )


def test_a_product_card_snapshots_the_offer_with_its_first_photo() -> None:
    second = SIZES.model_copy(update={"thumb": D.replace(".webm", ".jpg")})
    card = product_card("o_1", "Cherries", 49900, [SIZES, second])
    assert card == ProductAttachment(
        offer_id="o_1", title="Cherries", price_cents=49900, photo=SIZES
    )
    assert product_card("o_2", "", None, []).photo is None


def test_the_objects_a_line_shows_in_the_room() -> None:
    assert stored_names(ImageAttachment(image=SIZES)) == {A, B, C}
    same = ImageAttachment(image=SIZES.model_copy(update={"full": B}))  # never enlarged
    assert stored_names(same) == {A, B}
    voice = VoiceAttachment(object=D, content_type="audio/webm", bytes=10, duration_s=3)
    assert stored_names(voice) == {D}
    card = ProductAttachment(offer_id="o", photo=SIZES)  # orders' photo, not the room's
    for other in (card, LinkAttachment(url="https://x.y"), PendingAttachment(media="image"), None):
        assert stored_names(other) == set()


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 64,
        "A" * 64 + ".jpg",
        "a" * 63 + ".jpg",
        "a" * 64 + ".jpeg5x",
        "../" + A,
        "r_1/" + A,
    ],
)
def test_names_that_are_not_a_rooms_object(name: str) -> None:
    assert not is_media_name(name)
    assert is_media_name(A) and is_media_name(D)


def test_a_caption_buys_only_when_it_reads_as_a_buy() -> None:
    standing = Standing("live", RoomRules(), "o_cherry", Role.MEMBER, None, False)
    for caption, bought in (("", None), ("look at this", None), ("+2 XL", 2)):
        line = compose_post(LILY, caption, ImageAttachment(image=SIZES))
        assert isinstance(line, ChatMessagePosted)
        claim = Posted(line, standing).claim(LILY)
        assert (claim.quantity if claim else None) == bought
    unpinned = Standing("live", RoomRules(), None, Role.MEMBER, None, False)
    line = compose_post(LILY, "+1", ImageAttachment(image=SIZES))
    assert isinstance(line, ChatMessagePosted)
    assert Posted(line, unpinned).claim(LILY) is None


def test_a_groups_media_line_buys_only_by_its_caption() -> None:
    def group_line(text: str) -> ChatMessagePosted:
        return ChatMessagePosted(
            room_id="r_1",
            customer_id="telegram:7",
            message_id="telegram:-100:9",
            display_name="Tg",
            text=text,
            source="telegram",
            attachment=PendingAttachment(media="image"),
        )

    assert not may_be_claim(group_line(""))
    assert external_claim(group_line(""), "live", "o_1") is None
    claim = external_claim(group_line("+1"), "live", "o_1")
    assert claim is not None and claim.quantity == 1


def test_slow_mode_has_one_clock_per_member_and_forgets_the_oldest() -> None:
    clock = LastPosts(max_keys=3)
    assert clock.last("r:a") is None
    for n, key in enumerate(("r:a", "r:b", "r:c")):
        clock.posted(key, float(n))
    clock.posted("r:a", 10.0)  # posting again makes it the newest
    clock.posted("r:d", 11.0)
    assert (clock.last("r:a"), clock.last("r:b"), clock.last("r:d")) == (10.0, None, 11.0)


def test_the_feed_shows_a_groups_media_when_it_arrives_and_the_rules_allow_posts() -> None:
    feed = RoomFeed(RoomState(status="live"))
    feed.apply(
        RoomRulesChanged(room_id="r_1", by="host:1", members_post_media=True, block_links=False)
    )
    assert feed.state.rules.members_post_media and not feed.state.rules.block_links
    fetched = ImageAttachment(image=SIZES)
    feed.apply(ChatMediaFetched(room_id="r_1", message_id="telegram:-100:9", attachment=fetched))
    feed.apply(
        ChatMediaFetched(
            room_id="r_1", message_id="telegram:-100:10", attachment=None, reason="gone"
        )
    )
    frames = [json.loads(out.frame) for out in feed.drain()]
    assert frames == [
        # Everyone hears the rules (each page works out what it may post now).
        {"type": "rules", "members_post_media": True, "block_links": False},
        {
            "type": "attached",
            "message_id": "telegram:-100:9",
            "attachment": fetched.model_dump(),
            "reason": "",
        },
        {
            "type": "attached",
            "message_id": "telegram:-100:10",
            "attachment": None,
            "reason": "gone",
        },
    ]


def test_the_feed_does_not_show_media_fetched_for_a_line_deleted_meanwhile() -> None:
    feed = RoomFeed(RoomState(status="live"))
    feed.apply(ChatMessageDeleted(room_id="r_1", message_id="telegram:-100:9", by="host:1"))
    feed.apply(
        ChatMediaFetched(
            room_id="r_1", message_id="telegram:-100:9", attachment=ImageAttachment(image=SIZES)
        )
    )
    assert [json.loads(out.frame)["type"] for out in feed.drain()] == ["deleted"]
