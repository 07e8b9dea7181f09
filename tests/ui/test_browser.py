"""The app in a real Chromium: ask, follow up, upload an article and ask about it, markup stays text.

Needs Debian's chromium at /usr/bin/chromium (apt-get install chromium); Playwright drives it.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sample_data import SEED_TITLE

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--disable-component-update",
    "--disable-sync",
]
WAIT = 60_000  # ms; answers take a few seconds on a busy 2-core machine

GOAT = """The village of Little Pemberton elected a goat named Clementine as its honorary mayor on Tuesday, after she won 412 of the 700 votes cast in a charity election.
Clementine, a four-year-old Nubian goat, beat a retired postman and a golden retriever named Biscuit for the ceremonial post.
The election raised 3,800 dollars for the village library, organisers said.
"She has a calm temperament and she eats the weeds in the town square," said Margaret Ollerton, who ran the campaign.
The post Goat Named Clementine Elected Honorary Mayor of Little Pemberton appeared first on Valley Gazette.
"""
GOAT_TITLE = "Goat Named Clementine Elected Honorary Mayor of Little Pemberton"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
MALICIOUS = f"""The Zarnovia harbour council voted on Monday to rebuild the old swing bridge {SCRIPT} for 14 million crowns.
Councillor Ilse Varga said the bridge plan {IMG} was the largest public works project in Zarnovia's history.
Work on the swing bridge will begin in the spring and take three years, the council said.
The post {SCRIPT}Zarnovia Council {IMG} Bridge Vote appeared first on Harbour Times.
"""

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian chromium: apt-get install chromium"
)


@pytest.fixture(scope="module")
def page(app_server, artifacts):
    from playwright.sync_api import sync_playwright

    url, _ = app_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("#nr-chat", timeout=WAIT)
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()


def clear_conversation(page) -> None:
    """Clear the chat and wait until it is empty: a count taken before the clear lands would be stale."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Clear conversation").click()
    expect(page.locator('#nr-chat [data-testid="bot"]')).to_have_count(0, timeout=WAIT)


def ask(page, question: str, answered: bool = True):
    """Send a question and wait for the reply to finish; returns the last bot message."""
    from playwright.sync_api import expect

    replies = page.locator('#nr-chat [data-testid="bot"]')
    before = replies.count()
    box = page.locator("#nr-question textarea")
    box.fill(question)
    box.press("Enter")
    expect(replies).to_have_count(before + 1, timeout=WAIT)
    if answered:  # the source panel follows answers and refusals, not notices about the input
        expect(page.locator("#nr-sources .nr-question")).to_contain_text(question, timeout=WAIT)
    expect(box).to_be_editable(timeout=WAIT)  # the textbox is given back when the stream ends
    return replies.last


def choose_files(page, *paths: Path) -> None:
    """Put `paths` in the upload box and wait until Gradio lists the first one.

    Chromium in a container now and then drops the `change` event of a scripted file input
    (microsoft/playwright#29683), so a list that has not appeared after the full wait is set once
    more before failing. (Not sooner: on a loaded machine a slow first upload would then land twice.)
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator("#nr-upload")
    for attempt in (1, 2):
        box.locator("input[type=file]").set_input_files([str(p) for p in paths])
        try:
            box.get_by_text(paths[0].name).first.wait_for(timeout=WAIT)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def upload(page, path: Path, marker: str) -> str:
    """Upload a file and wait for its own result line (`marker`: text of that upload's title), not an earlier one."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Add articles").click()
    choose_files(page, path)
    page.locator("#nr-add").click()
    result = page.locator("#nr-ingest-result")
    expect(result).to_contain_text(marker, timeout=WAIT)
    expect(result).to_contain_text("1 new")
    return result.inner_text()


def test_ask_then_follow_up_with_source_cards(page, artifacts):
    from playwright.sync_api import expect

    reply = ask(page, "How many immigration officers is the government pulling out of Minneapolis?")
    expect(reply).to_contain_text("700")
    expect(reply).to_contain_text("[1]")
    card = page.locator("#nr-sources .nr-card").first
    expect(card).to_contain_text("[1]")
    expect(card).to_contain_text(SEED_TITLE)
    # The card highlights the cited sentence (and any other cited sentence of the same passage).
    expect(card.locator("mark", has_text="700")).to_have_count(1)
    page.screenshot(path=str(artifacts / "chat-answer.png"))

    reply = ask(page, "What did the mayor say about it?")
    expect(reply).to_contain_text("step in the right direction")
    expect(page.locator("#nr-sources mark").first).to_contain_text("step in the right direction")
    assert page.locator('#nr-chat [data-testid="user"]').count() == 2
    page.screenshot(path=str(artifacts / "followup.png"))


def test_refusal_looks_different_and_lists_closest_articles(page):
    from playwright.sync_api import expect

    reply = ask(page, "What interest rate did the Bank of England set in April 2015?")
    expect(reply.locator("blockquote")).to_contain_text("The articles don't say")
    expect(page.locator("#nr-sources .nr-refusal-head")).to_be_visible()
    assert page.locator("#nr-sources .nr-closest").count() >= 1


def test_an_unreadable_filter_date_is_said_in_the_chat_which_stays_usable(page):
    from playwright.sync_api import expect

    page.get_by_text("Answer settings").first.click()
    date_from = page.get_by_label("From date").first
    date_from.fill("April 2015")
    reply = ask(page, "What did the mayor say?", answered=False)
    expect(reply.locator("blockquote")).to_contain_text("'April 2015' is not a date")
    date_from.fill("")
    page.get_by_text("Answer settings").first.click()


def test_another_visitor_has_their_own_conversation(page, app_server):
    other = page.context.browser.new_page()
    try:
        other.goto(app_server[0])
        other.wait_for_selector("#nr-chat", timeout=WAIT)
        assert other.locator('#nr-chat [data-testid="user"]').count() == 0
        assert other.locator("#nr-sources .nr-card").count() == 0
    finally:
        other.close()
    assert page.locator('#nr-chat [data-testid="user"]').count() == 4


def test_uploaded_article_is_answerable_at_once(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    story = tmp_path / "goat-mayor.txt"
    story.write_text(GOAT)
    page.get_by_role("tab", name="Add articles").click()
    choose_files(page, story)
    page.locator("#nr-add").click()

    page.get_by_role("tab", name="Ask").click()  # the chat keeps working while the upload is indexed
    clear_conversation(page)
    expect(page.locator('#nr-chat [data-testid="user"]')).to_have_count(0)
    expect(ask(page, "What did the mayor of Minneapolis say?")).to_contain_text("step in the right direction")

    page.get_by_role("tab", name="Add articles").click()
    result = page.locator("#nr-ingest-result")
    expect(result).to_contain_text(GOAT_TITLE, timeout=WAIT)
    assert "1 new" in result.inner_text() and "0 failed" in result.inner_text()
    page.screenshot(path=str(artifacts / "upload.png"))

    page.get_by_role("tab", name="Ask").click()
    clear_conversation(page)
    expect(page.locator('#nr-chat [data-testid="user"]')).to_have_count(0)
    reply = ask(page, "Who was elected honorary mayor of Little Pemberton?")
    expect(reply).to_contain_text("Clementine")
    expect(reply).to_contain_text("[1]")
    expect(page.locator("#nr-sources .nr-card").first).to_contain_text(GOAT_TITLE)
    page.screenshot(path=str(artifacts / "upload-answer.png"))


def test_markup_in_an_article_is_shown_as_text_never_run(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    story = tmp_path / "council.txt"
    story.write_text(MALICIOUS)
    upload(page, story, "Zarnovia Council")

    page.get_by_role("tab", name="Ask").click()
    reply = ask(page, "What did the Zarnovia harbour council vote to rebuild?")
    expect(reply).to_contain_text(SCRIPT)
    expect(page.locator("#nr-sources .nr-title").first).to_contain_text(f"{SCRIPT}Zarnovia Council {IMG}")
    page.screenshot(path=str(artifacts / "xss-chat.png"))

    page.get_by_role("tab", name="Browse articles").click()
    page.get_by_label("Search titles").fill("Zarnovia")
    row = page.locator("#nr-articles").get_by_text("Bridge Vote").filter(visible=True).first
    expect(row).to_contain_text(SCRIPT)
    row.click()
    article = page.locator("#nr-article .nr-article")
    expect(article).to_contain_text(f"{SCRIPT}Zarnovia Council {IMG} Bridge Vote", timeout=WAIT)
    expect(article).to_contain_text(f"the bridge plan {IMG} was")
    page.screenshot(path=str(artifacts / "xss.png"))

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#nr-article script, #nr-article img, #nr-sources img, #nr-chat script").count() == 0
    assert not page.errors  # type: ignore[attr-defined]


def test_an_answerer_registered_by_name_is_chosen_in_the_answer_settings(page, plugin_app_server, artifacts):
    from playwright.sync_api import expect

    url, engine = plugin_app_server
    question = "What did the mayor of Minneapolis say?"
    expected = engine.ask(question, answerer="first-sentence").citations[0].sentence
    extractive = engine.ask(question).citations[0].sentence
    assert expected != extractive  # so the reply shows which answerer wrote it
    other = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        other.goto(url)
        other.wait_for_selector("#nr-chat", timeout=WAIT)
        other.get_by_text("Answer settings").first.click()
        other.get_by_label("Answer mode").click()
        other.get_by_role("option", name="first-sentence").click()
        reply = ask(other, question)
        expect(reply).to_contain_text(expected)
        expect(reply).not_to_contain_text(extractive)
        expect(reply).to_contain_text("[1]")
        expect(other.locator("#nr-sources .nr-card mark").first).to_have_text(expected)
        other.screenshot(path=str(artifacts / "answer-mode.png"), full_page=True)
    finally:
        other.close()


# --- stored markup from hostile uploads, on every view -------------------------------------------

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def tracker():
    """An image server on 127.0.0.1 that records every request: a rendered image or fetched link hits it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def hostile_articles(track: str) -> list[dict]:
    """Two articles whose every shown field carries HTML, `javascript:` links and Markdown images of `track`."""
    return [
        {
            "id": "hostile-quarry",
            "title": f"{SCRIPT}Brennock Quarry {IMG} to close ![t]({track}/title.png) [Log in](javascript:window.__pwned=3)",
            "source": f"![logo]({track}/source.png) [Wire](javascript:window.__pwned=4) {IMG} **Loud**",
            "author": f"{IMG} ![a]({track}/author.png)",
            "url": f'{track}/article"onmouseover="window.__pwned=5"',
            "published_at": "2026-02-03T10:00:00Z",
            "text": (
                f"The Brennock quarry will close on Friday after 90 years of work, its owners said. ![pic]({track}/body.png)\n"
                f"About 140 quarry workers {SCRIPT} were told of the closure [details](javascript:window.__pwned=6) at a meeting on Monday.\n"
                f'The owners said {IMG} the stone had run out and <a href="javascript:window.__pwned=7">no buyer</a> was found.\n'
                f"The history of the quarry is at www.brennock-quarry.example and {track}/bare.png online."
            ),
        },
        {
            "id": "hostile-phish",
            "title": f"Session expired: [sign in again]({track}/phish) <img src={track}/t2.png>",
            "source": f"[Reuters]({track}/login) <b>Official</b>",
            "url": f"{track}/phish?<script>",
            "text": "Brennock council will hold a public meeting about the quarry site in March, the council said.",
        },
    ]


def test_hostile_articles_are_text_on_every_view_and_nothing_loads_or_runs(
    page, artifacts, tmp_path, tracker
):
    """Titles, bodies, publishers, authors, URLs and upload names carrying markup, on the corpus header,
    the Add result line, the Ask reply and source cards, the Browse table and the article view."""
    import json

    from playwright.sync_api import expect

    track, hits = tracker
    articles = hostile_articles(track)
    upload = tmp_path / "wire.jsonl"
    upload.write_text("".join(json.dumps(a) + "\n" for a in articles))
    broken = tmp_path / f"{IMG}[x](javascript:window.__pwned=8).json"
    broken.write_text("{not json")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.get_by_role("tab", name="Add articles").click()
    choose_files(page, upload, broken)
    page.locator("#nr-add").click()
    result = page.locator("#nr-ingest-result")
    expect(result).to_contain_text("2 new", timeout=WAIT)
    expect(result).to_contain_text(articles[0]["title"])  # the title as given, as text
    expect(result).to_contain_text(articles[1]["title"])
    expect(result).to_contain_text("1 failed")
    # The upload's name as Gradio keeps it (it drops < > : from file names), shown as text.
    expect(result).to_contain_text(
        "failed: img src=x onerror=%22window.__pwned=2%22[x](javascriptwindow.__pwned=8).json"
    )
    page.screenshot(path=str(artifacts / "hostile-add.png"))

    header = page.locator("#nr-corpus")
    expect(header).to_contain_text(articles[0]["source"])
    expect(header).to_contain_text(articles[1]["source"])

    page.get_by_role("tab", name="Ask").click()
    clear_conversation(page)
    reply = ask(page, "How many quarry workers were told of the Brennock closure?")
    expect(reply).to_contain_text("About 140 quarry workers")
    expect(reply).to_contain_text(f"{SCRIPT} were told of the closure [details](javascript:window.__pwned=6)")
    cards = page.locator("#nr-sources")
    expect(cards.locator(".nr-title").first).to_contain_text(articles[0]["title"])
    expect(cards.locator(".nr-source").first).to_contain_text(articles[0]["source"])
    page.screenshot(path=str(artifacts / "hostile-ask.png"))

    page.get_by_role("tab", name="Browse articles").click()
    page.get_by_label("Search titles").fill("Brennock")
    row = page.locator("#nr-articles").get_by_text("Brennock Quarry").filter(visible=True).first
    expect(row).to_contain_text(articles[0]["title"])
    row.click()
    view = page.locator("#nr-article .nr-article")
    expect(view.locator("h2")).to_have_text(articles[0]["title"], timeout=WAIT)
    expect(view).to_contain_text(f"By {articles[0]['author']}")
    expect(view).to_contain_text('and <a href="javascript:window.__pwned=7">no buyer</a> was found')
    expect(view).to_contain_text(f"![pic]({track}/body.png)")
    page.screenshot(path=str(artifacts / "hostile-browse.png"))

    # A feed URL is the user's own text, but an error quoting it is shown as HTML by Gradio: escaped.
    page.get_by_role("tab", name="Add articles").click()
    feed = f"javascript:<img src={track}/toast.png onerror=window.__pwned=9>"
    page.locator("#nr-feed textarea, #nr-feed input").first.fill(feed)
    page.locator("#nr-add").click()
    toast = page.get_by_test_id("toast-body").last
    expect(toast).to_contain_text(f"'{feed}' is not an http(s) feed URL", timeout=WAIT)

    page.wait_for_timeout(500)  # time for any image or script that did get in to load
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert hits == [] and not [u for u in requested if u.startswith(track)]
    refs = page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap(e =>
              ['href', 'src', 'srcset', 'action', 'formaction', 'poster', 'data']
                .filter(a => e.hasAttribute(a))
                .map(a => ({tag: e.tagName, attr: a, value: e.getAttribute(a), text: e.textContent})))"""
    )
    assert not [
        r for r in refs if r["value"].strip().lower().startswith(("javascript:", "vbscript:", "data:text"))
    ]
    # What points at the tracker is only an article's own http(s) URL, as the "link" of its card or page.
    to_tracker = [r for r in refs if track in r["value"]]
    assert to_tracker and all((r["tag"], r["attr"], r["text"]) == ("A", "href", "link") for r in to_tracker)
    shown = "#nr-corpus, #nr-ingest-result, #nr-chat, #nr-sources, #nr-articles, #nr-article"
    assert page.locator(f":is({shown}) :is(script, img, iframe, object, embed, form)").count() == 0
    handlers = page.evaluate(
        f"""() => [...document.querySelectorAll(':is({shown}) *')]
              .flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on'))"""
    )
    assert handlers == []
    assert not page.errors  # type: ignore[attr-defined]
