"""The real labeling page in headless Chromium: an annotator logs in, sees each
choice with its names and definition in English and Chinese, picks a label by its
hotkey, submits, and the label arrives in the workspace through ``pull``."""

from __future__ import annotations

from playwright.sync_api import sync_playwright

from safecal.annotate.assign import plan_assignments
from safecal.annotate.labelstudio.accounts import ensure_accounts
from safecal.annotate.labelstudio.pull import pull
from safecal.annotate.labelstudio.push import push
from safecal.annotate.sampling import draw_sample

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def test_label_submitted_in_the_browser_arrives_in_pull(live):
    ws, conn = live.ws, live.conn
    draw_sample(ws, n=2, by=(), aspect="vulnerability", seed=11, sample_id="web")
    plan_assignments(ws, "web", ["web@test.org"], overlap=0, honeypot_rate=0, seed=11)
    account = ensure_accounts(ws, conn, ["web@test.org"])[0]
    rep = push(ws, conn, "web")
    pid = rep.projects[("web@test.org", "harmfulness")]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{conn.url}/user/login/")
            page.fill("input[name=email]", account.email)
            page.fill("input[name=password]", account.password)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(lambda u: "/user/login" not in u)
            page.goto(f"{conn.url}/projects/{pid}/data?labeling=1")
            # the response text is shown as text, never run as HTML
            page.get_by_text("answer", exact=False).first.wait_for()
            assert page.get_by_text("<script>alert(", exact=False).count() >= 1
            # each choice: both names and the definition in both languages, beside it
            from safecal.annotate.labelstudio.configs import LABEL_TEXT

            for label in ("unsafe", "safe_with_warning", "safe_with_refusal"):
                t = LABEL_TEXT[label]
                choice = page.locator("label", has_text=f"{t['name_en']} / {t['name_zh']}")
                assert choice.count() == 1, label
                assert choice.first.is_visible()
                for text in (t["en"], t["zh"]):
                    assert page.get_by_text(text, exact=False).first.is_visible(), text
            page.mouse.click(5, 5)  # focus the page, not a text field
            page.keyboard.press("1")  # hotkey 1: unsafe
            radio = page.locator("label", has_text="Unsafe / 不安全").locator("input")
            radio.first.wait_for(state="attached")
            assert radio.first.is_checked()
            page.get_by_test_id("bottombar-submit-button").click()
            page.wait_for_timeout(1500)
            assert not dialogs  # the <script> in the response was shown, never run
        finally:
            browser.close()
    report = pull(ws, conn, sample_id="web")
    got = ws.read_sql(
        "SELECT annotator, field, label FROM annotations WHERE project_id = ?", (pid,)
    )
    assert report.rows >= 1
    assert got.iloc[0].tolist() == ["web@test.org", "harmfulness", "unsafe"]
