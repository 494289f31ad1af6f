"""The pickup desk in a real browser at 375 px: the host's desk link opens /desk, the desk
types a buyer's pickup code (as a USB scanner does: digits and Enter), sees the order and
hands it over; a second handover is refused and says when the first was. The camera: a QR
code of the pickup code played as Chromium's fake camera, decoded by the page."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.orders.adapters.tables import OrderRow, PickupPointRow
from shared.db import make_engine, make_sessionmaker
from tests.browser.conftest import (
    ADMIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    Platform,
    needs_browser,
    screenshot,
)
from tests.browser.test_accessibility import AXE_CONTEXT, SEVERE, run_axe
from tests.support import eventually

pytestmark = [pytest.mark.timeout(120), needs_browser]


async def paid_pickup_order(platform: Platform, data: Path) -> dict[str, Any]:
    """A live room's offer bought by Lily for pickup at a point of the room, paid; and the
    desk link of that point."""
    room = await platform.live_room()
    offer = await platform.offer(room, title="Cherries 樱桃 2 kg", per_buyer_limit=2)
    point_id = f"pp_{uuid.uuid4().hex[:10]}"
    sessions = make_sessionmaker(make_engine(f"sqlite+aiosqlite:///{data}/orders.db"))
    async with sessions() as session:  # the point's CRUD is another part of the API
        session.add(
            PickupPointRow(
                id=point_id,
                owner="admin",
                name="Maple Court 枫园",
                address="12 Maple Road, gate 3",
                hours="9:00-20:00",
                room_ids=[room],
            )
        )
        await session.commit()
    buyer = {"Authorization": f"Bearer {platform.buyer_token(room, 'Lily')}"}
    orders = platform.orders
    placed = await platform.http.post(
        f"{orders}/offers/{offer['id']}/checkout",
        headers={**buyer, "Idempotency-Key": uuid.uuid4().hex},
        json={"quantity": 2},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    chosen = await platform.http.post(
        f"{orders}/orders/{order_id}/fulfilment",
        headers=buyer,
        json={"method": "pickup", "pickup_point": point_id},
    )
    assert chosen.status_code == 200, chosen.text
    async with sessions() as session:  # the name Lily showed (set at checkout by then)
        row = await session.get(OrderRow, order_id)
        assert row is not None
        row.buyer_name = "Lily 莉莉"
        session.add(row)
        await session.commit()
    paying = await platform.http.post(
        f"{orders}/orders/{order_id}/pay", headers=buyer, json={"card": "4242 4242 4242 4242"}
    )
    assert paying.status_code == 202, paying.text

    async def paid() -> dict[str, Any] | None:
        order: dict[str, Any] = (
            await platform.http.get(f"{orders}/orders/{order_id}", headers=buyer)
        ).json()
        return order if order["status"] == "paid" and order["pickup_code"] else None

    order = await eventually(paid)
    assert order is not None
    link = await platform.http.post(
        f"{orders}/pickup-points/{point_id}/desk-token",
        headers={**ADMIN, "Origin": platform.live},
        json={"hours": 1},
    )
    assert link.status_code == 201, link.text
    return {**order, "title": offer["title"], "desk_url": link.json()["desk_url"]}


async def test_the_desk_hands_over_once_and_refuses_the_second_with_the_time(
    browser: Any, platform: Platform, tmp_path: Path, axe_script: Path
) -> None:
    order = await paid_pickup_order(platform, tmp_path)
    assert order["desk_url"].startswith(f"{platform.live}/desk#token=")
    context = await browser.new_context(**PHONE)
    first = platform.watch(await context.new_page())
    await first.goto(order["desk_url"])
    await first.locator("#desk").wait_for()
    assert "token" not in first.url  # out of the address bar, kept for this tab
    assert "Maple Court 枫园" in await first.locator("#point-name").inner_text()
    # Another tab of the desk (a second phone at the same point) looks the code up too.
    second = platform.watch(await context.new_page())
    await second.goto(order["desk_url"])
    code = order["pickup_code"]
    for page in (first, second):
        await page.locator("#code").fill(code)  # a USB scanner types the digits and Enter
        await page.locator("#code").press("Enter")
        await page.locator("#order").wait_for()
    assert await first.locator("#order-title").inner_text() == order["title"]
    assert await first.locator("#order-buyer").inner_text() == "Lily 莉莉"
    assert await first.locator("#order-items").inner_text() == "× 2"
    await screenshot(first, "desk-order")

    await first.get_by_role("button", name="Handed over").click()
    verdict = first.locator("#order-verdict")
    await verdict.filter(has_text="Handed over at").wait_for()
    assert not await first.locator("#handover").is_visible()
    at = (await verdict.inner_text()).removeprefix("Handed over at ").split(".")[0]
    await screenshot(first, "desk-handed-over")

    # The second tab still shows the button: the server refuses, the page says when.
    await second.get_by_role("button", name="Handed over").click()
    refused = second.locator("#order-verdict")
    await refused.filter(has_text="Already handed over at").wait_for()
    assert f"Already handed over at {at}:" in await refused.inner_text()
    assert not await second.locator("#handover").is_visible()
    # The next lookup of that code says it at once; a wrong code is said plainly.
    await first.get_by_role("button", name="Next code").click()
    await first.locator("#code").fill(code)
    await first.locator("#code").press("Enter")
    await first.locator("#order-verdict").filter(has_text=f"Already handed over at {at}").wait_for()
    assert not await first.locator("#handover").is_visible()
    wrong = "000000" if code != "000000" else "000001"
    await first.locator("#code").fill(wrong)
    await first.locator("#code").press("Enter")
    await first.locator("#code-status").filter(has_text=f"has code {wrong}").wait_for()
    assert not await first.locator("#order").is_visible()
    await screenshot(first, "desk-refused")
    assert platform.page_errors == []

    # Accessibility of the desk with an order shown (axe needs the CSP bypassed).
    checked = await browser.new_context(**PHONE, **AXE_CONTEXT)
    page = await checked.new_page()
    await page.goto(order["desk_url"])
    await page.locator("#code").fill(code)
    await page.locator("#code").press("Enter")
    await page.locator("#order").wait_for()
    severe = [v for v in await run_axe(page, axe_script) if v["impact"] in SEVERE]
    assert severe == [], severe
    await checked.close()
    await context.close()


async def test_without_a_link_the_desk_says_to_ask_the_host(
    browser: Any, platform: Platform
) -> None:
    context = await browser.new_context(**PHONE)
    page = platform.watch(await context.new_page())
    await page.goto(f"{platform.live}/desk")
    await page.locator("#no-link").filter(has_text="Ask the host").wait_for()
    await page.goto(f"{platform.live}/desk#token=not-a-token")
    await page.locator("#no-link").filter(has_text="no longer works").wait_for()
    headers = (await httpx.AsyncClient(timeout=30).get(f"{platform.live}/desk")).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    await context.close()


CAMERA_STATE = """() => {
  const video = document.querySelector('#camera-video');
  return {scanner: window.qunliveDesk.scanner, width: video.videoWidth, state: video.readyState,
          status: document.querySelector('#code-status').textContent};
}"""


def qr_video(code: str, folder: Path) -> Path:
    """A y4m video of the QR code of `code` (segno, then imageio-ffmpeg's ffmpeg)."""
    segno = pytest.importorskip("segno")
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    picture = folder / "qr.png"
    # A QR code, never a Micro QR (segno.make's choice for six digits): phones and jsQR
    # read only QR codes.
    segno.make_qr(code, error="m").save(str(picture), scale=12, border=4)
    video = folder / "qr.y4m"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel",
            "error",
            "-y",
            "-loop",
            "1",
            "-i",
            str(picture),
            "-vf",
            "scale=360:360,pad=640:480:140:60:white,format=yuv420p",
            "-r",
            "10",
            "-frames:v",
            "20",
            str(video),
        ],
        check=True,
        timeout=60,
    )
    return video


async def test_the_camera_reads_the_buyers_qr_code(platform: Platform, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    order = await paid_pickup_order(platform, tmp_path)
    video = qr_video(order["pickup_code"], tmp_path)
    async with async_playwright() as playwright:
        camera: Any = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
            timeout=30_000,
        )
        try:
            context = await camera.new_context(**PHONE)
            await context.grant_permissions(["camera"], origin=platform.live)
            page = platform.watch(await context.new_page())
            await page.goto(order["desk_url"])
            await page.locator("#desk").wait_for()
            await page.get_by_role("button", name="Scan with the camera").click()
            try:
                await page.locator("#order").wait_for(timeout=20_000)
            except Exception as exc:  # say what the page saw
                seen = await page.evaluate(CAMERA_STATE)
                raise AssertionError(f"no code read: {seen} {platform.page_errors}") from exc
            assert await page.locator("#order-code").inner_text() == order["pickup_code"]
            assert await page.evaluate("window.qunliveDesk.scanner") in ("jsqr", "barcode-detector")
            assert not await page.locator("#camera").is_visible()  # stopped once read
            await page.get_by_role("button", name="Handed over").click()
            await page.locator("#order-verdict").filter(has_text="Handed over at").wait_for()
            assert platform.page_errors == []
        finally:
            await camera.close()
