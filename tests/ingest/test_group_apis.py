"""The fake group platforms answer as the documented APIs do (tests/ingest/group_apis.py):
the channels' tests and the sender's rely on it, so it must be able to say no."""

from __future__ import annotations

import httpx

from tests.ingest.group_apis import (
    TELEGRAM_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID,
    WHATSAPP_TOKEN,
    WHATSAPP_VERSION,
    GroupApis,
    Limit,
)
from tests.support import serving

GROUP = "-1001234567890"


async def test_telegram_send_edit_pin_and_its_refusals() -> None:
    apis = GroupApis(enforce_limits=False)
    apis.member_says(GROUP, 42)
    async with serving(apis.app()) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        bot = f"/bot{TELEGRAM_TOKEN}"
        sent = await http.post(f"{bot}/sendMessage", json={
            "chat_id": GROUP, "text": "<b>Held</b> &lt;2&gt;", "parse_mode": "HTML",
            "reply_parameters": {"message_id": 42},
            "reply_markup": {"inline_keyboard": [[{"text": "Pay", "url": "https://x.test/p"}]]},
        })  # fmt: skip
        assert sent.status_code == 200, sent.text
        message_id = sent.json()["result"]["message_id"]
        assert sent.json()["result"]["text"] == "Held <2>"
        edit = {"chat_id": GROUP, "message_id": message_id, "text": "Paid", "parse_mode": "HTML"}
        assert (await http.post(f"{bot}/editMessageText", json=edit)).status_code == 200
        same = await http.post(f"{bot}/editMessageText", json=edit)
        assert same.status_code == 400
        assert "message is not modified" in same.json()["description"]
        pin = {"chat_id": GROUP, "message_id": message_id}
        assert (await http.post(f"{bot}/pinChatMessage", json=pin)).json()["result"] is True
        [message] = apis.messages(GROUP)
        assert (message.plain, message.reply_to, message.pinned, message.edits) == (
            "Paid",
            "42",
            True,
            1,
        )
        assert message.buttons == []  # the edit sent no keyboard: the buttons went

        unescaped = await http.post(
            f"{bot}/sendMessage", json={"chat_id": GROUP, "text": "a < b & c", "parse_mode": "HTML"}
        )
        assert unescaped.status_code == 400
        assert "can't parse entities" in unescaped.json()["description"]
        lost = await http.post(
            f"{bot}/sendMessage",
            json={"chat_id": GROUP, "text": "x", "reply_parameters": {"message_id": 7}},
        )
        assert lost.json()["description"] == "Bad Request: message to be replied not found"

        apis.fail_next(GROUP, 429, retry_after=7)
        apis.fail_next(GROUP, 502)
        limited = await http.post(f"{bot}/sendMessage", json={"chat_id": GROUP, "text": "x"})
        assert limited.status_code == 429
        assert limited.json() == {
            "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }  # fmt: skip
        assert (await http.post(f"{bot}/sendMessage", json={"chat_id": GROUP, "text": "x"})
                ).status_code == 502  # fmt: skip
        apis.kick(GROUP)
        kicked = await http.post(f"{bot}/sendMessage", json={"chat_id": GROUP, "text": "x"})
        assert kicked.json()["description"] == "Forbidden: bot was kicked from the group chat"
        apis.add_chat("-100777")
        unknown = await http.post(f"{bot}/sendMessage", json={"chat_id": "-100999", "text": "x"})
        assert unknown.json()["description"] == "Bad Request: chat not found"
        wrong = await http.post("/bot1:nope/getMe")
        assert wrong.status_code == 401


async def test_telegram_limits_are_enforced_and_counted() -> None:
    apis = GroupApis(telegram_per_chat=(Limit(1, 1.0),))
    async with serving(apis.app()) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        send = f"/bot{TELEGRAM_TOKEN}/sendMessage"
        first = await http.post(send, json={"chat_id": GROUP, "text": "one"})
        second = await http.post(send, json={"chat_id": GROUP, "text": "two"})
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["parameters"]["retry_after"] == 1
    assert [v.rule for v in apis.violations] == ["telegram chat 1/1s"]
    assert len(apis.sent_times(GROUP)) == 1


async def test_telegram_setup_methods() -> None:
    apis = GroupApis(can_read_all_group_messages=True, pending_update_count=3)
    async with serving(apis.app()) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        bot = f"/bot{TELEGRAM_TOKEN}"
        me = (await http.get(f"{bot}/getMe")).json()["result"]
        assert me["can_read_all_group_messages"] is True
        plain = await http.post(f"{bot}/setWebhook", json={"url": "http://insecure.test/"})
        assert plain.status_code == 400
        hook = {"url": "https://in.test/webhooks/telegram", "secret_token": "s3cret_-",
                "allowed_updates": ["message", "chat_member"]}  # fmt: skip
        assert (await http.post(f"{bot}/setWebhook", json=hook)).json()["result"] is True
        info = (await http.get(f"{bot}/getWebhookInfo")).json()["result"]
    assert info["url"] == hook["url"]
    assert info["pending_update_count"] == 3
    assert info["allowed_updates"] == ["message", "chat_member"]


async def test_whatsapp_messages_and_graph_errors() -> None:
    group = "120363041234567890@g.us"
    apis = GroupApis(whatsapp_per_chat=(Limit(2, 60.0),))
    headers = {"Authorization": f"Bearer {WHATSAPP_TOKEN}"}
    path = f"/{WHATSAPP_VERSION}/{WHATSAPP_PHONE_NUMBER_ID}/messages"
    text = {"messaging_product": "whatsapp", "recipient_type": "group", "to": group,
            "type": "text", "text": {"body": "*Live* now"}}  # fmt: skip
    async with serving(apis.app()) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        sent = await http.post(path, json=text, headers=headers)
        assert sent.status_code == 200, sent.text
        assert sent.json()["messaging_product"] == "whatsapp"
        assert sent.json()["messages"][0]["id"].startswith("wamid.")
        apis.fail_next(group, 400, code=131047)
        window = (await http.post(path, json=text, headers=headers)).json()["error"]
        assert window["code"] == 131047
        assert (await http.post(path, json=text, headers=headers)).status_code == 200
        pair = (await http.post(path, json=text, headers=headers)).json()["error"]
        assert pair["code"] == 131056
        token = await http.post(path, json=text, headers={"Authorization": "Bearer no"})
        assert (token.status_code, token.json()["error"]["code"]) == (401, 190)
    assert len(apis.messages(group)) == 2
    assert len(apis.violations) == 1


async def test_wecom_robot_answers_errcodes() -> None:
    key = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    apis = GroupApis(wecom_per_chat=(Limit(1, 60.0),))
    apis.add_chat(key)
    body = {"msgtype": "markdown", "markdown": {"content": "**Live** now <@zhangsan>"}}
    async with serving(apis.app()) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        sent = await http.post("/cgi-bin/webhook/send", params={"key": key}, json=body)
        limited = await http.post("/cgi-bin/webhook/send", params={"key": key}, json=body)
        unknown = await http.post("/cgi-bin/webhook/send", params={"key": "nope"}, json=body)
    assert sent.json() == {"errcode": 0, "errmsg": "ok"}
    assert (limited.status_code, limited.json()["errcode"]) == (200, 45009)
    assert unknown.json()["errcode"] == 93000
    [message] = apis.messages(key)
    assert message.mentions == ["zhangsan"]
