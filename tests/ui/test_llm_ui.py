"""The LLM answer mode in the app: offered only with a backend, streamed into the chat, every sentence
checked and an unsupported one marked, and quotes with a notice when the LLM's server is down.

Real servers on 127.0.0.1 and the real SmolLM2-135M through llama-cpp-python; it is often wrong, so
its wording is never asserted, only the shape of what the app makes of it.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator

import gradio as gr
import pytest
from gradio_client import Client
from sample_data import SEED_QUESTION, SEED_TITLE

from newsrag.rag.engine import NewsRAG
from newsrag.rag.types import Answer, AnswerSentence, Citation
from newsrag.ui import render
from newsrag.ui.app import NewsApp, serve

SCRIPT = "<script>window.__pwned=1</script>"
PHISH = "[Log in again](http://127.0.0.1:9/login)"
MARKDOWN_PUNCTUATION = set("\\`*_{}[]()#+-.!|~$=:@^")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mode_choices(url: str) -> tuple[list[list[str]], str]:
    """The (label, value) choices and the value of the served page's answer-mode control."""
    with urllib.request.urlopen(f"{url}config", timeout=10) as response:
        config = json.load(response)
    [props] = [c["props"] for c in config["components"] if c.get("props", {}).get("label") == "Answer mode"]
    return props["choices"], props["value"]


@pytest.fixture(scope="module")
def served(small_index, embedder) -> Iterator[dict[str, tuple[str, NewsRAG]]]:
    """Apps as `newsrag serve --llm X` starts them, by X: the local SmolLM2, and a server where nothing listens.

    They only read the small index.
    """
    down = f"http://127.0.0.1:{free_port()}/v1"
    apps = {}
    try:
        for backend, extra in (("llama-cpp", {}), ("openai", {"llm_base_url": down, "llm_timeout": 5.0})):
            settings = small_index.replace(llm=backend, answerer="llm", **extra)
            engine = NewsRAG(settings, embedder)
            demo, url = serve(engine, settings, port=free_port(), block=False)
            apps[backend] = (demo, url, engine)
        yield {backend: (url, engine) for backend, (_, url, engine) in apps.items()}
    finally:
        for demo, _, _ in apps.values():
            demo.close()


def assert_checked(data: dict) -> None:
    """The `newsrag ask --json` object, each sentence's `supported` a bool; quotes say why they are quotes."""
    assert {"question", "answer", "refused", "sentences", "citations", "mode", "notice"} <= set(data)
    assert data["sentences"] and all(s["supported"] in (True, False) for s in data["sentences"])
    if data["mode"] == "extractive":  # nothing the LLM wrote survived the check: quotes, saying so
        assert data["notice"] and all(s["supported"] is True for s in data["sentences"])
    else:
        assert data["mode"] == "llm"


# --- the mode control ----------------------------------------------------------


def test_without_an_llm_the_mode_control_does_not_offer_the_llm(app_server):
    url, _ = app_server
    choices, value = mode_choices(url)
    assert "llm" in NewsRAG.answerer_names()
    assert [v for _, v in choices] == ["extractive"] and value == "extractive"


def test_with_an_llm_the_mode_control_offers_it_labelled_with_its_backend(served):
    for backend, (url, _) in served.items():
        choices, value = mode_choices(url)
        assert ["extractive", "extractive"] in choices
        assert [f"LLM ({backend}), checked", "llm"] in choices and value == "llm"


def test_an_llm_that_cannot_be_built_is_said_in_the_chat(small_index, embedder):
    settings = small_index.replace(llm="openai", answerer="extractive")  # no llm_base_url
    app = NewsApp(NewsRAG(settings, embedder), settings)
    assert app.modes == ["extractive", "llm"]
    [(reply, panel)] = app.chat(SEED_QUESTION, [], mode="llm")
    assert reply.startswith(f"> {render.REFUSAL_MARK}")
    assert render.md_text("llm = openai needs llm_base_url") in reply
    assert panel == gr.skip()  # the panel keeps the sources it showed


# --- the local model -----------------------------------------------------------


def test_ask_in_llm_mode_returns_the_answer_object_with_every_sentence_checked(served):
    url, engine = served["llama-cpp"]
    data = Client(url, verbose=False).predict(SEED_QUESTION, [], api_name="/ask")
    assert isinstance(data, dict) and data["question"] == SEED_QUESTION
    assert_checked(data)
    assert data["citations"] and data["citations"][0]["title"] == SEED_TITLE
    for c in data["citations"]:
        assert engine.article(c["article_id"]).text[c["start"] : c["end"]] == c["sentence"]


def test_the_chat_streams_the_llm_text_then_shows_the_checked_answer(served):
    _, engine = served["llama-cpp"]
    updates = list(NewsApp(engine, engine.settings).chat(SEED_QUESTION, [], mode="llm"))
    *written, (final, panel) = updates
    assert len(written) > 1  # the reply grew as the model wrote, before the checked answer
    texts = [reply.removesuffix(f" {render.WRITING_MARK}") for reply, _ in written]
    assert all(reply.endswith(render.WRITING_MARK) for reply, _ in written)
    assert all(len(a) <= len(b) for a, b in zip(texts, texts[1:], strict=False)) and texts[-1]
    assert written[0][1] == render.CHECKING  # the last answer's sources do not pass for this one's
    assert all(p == gr.skip() for _, p in written[1:])
    assert render.WRITING_MARK not in final and "<" not in final
    assert re.search(r"\*\*(\\\[\d+\\\])+\*\*", final)  # cited, however it came out
    assert "nr-card" in panel and SEED_TITLE in panel


# --- a server that is down -----------------------------------------------------


def test_a_server_that_is_down_gives_the_quotes_with_a_notice_in_the_api_and_the_chat(served):
    url, engine = served["openai"]
    data = Client(url, verbose=False).predict(SEED_QUESTION, [], api_name="/ask")
    assert_checked(data)
    assert data["mode"] == "extractive" and data["notice"].startswith("the LLM failed")
    assert "700" in data["answer"] and not data["refused"]

    *_, (reply, panel) = NewsApp(engine, engine.settings).chat(SEED_QUESTION, [], mode="llm")
    assert reply.startswith(f"> {render.REFUSAL_MARK} {render.md_text(data['notice'])}\n\n")
    assert "700" in reply and "Traceback" not in reply and render.UNSUPPORTED_MARK + " *" not in reply
    assert "nr-card" in panel and SEED_TITLE in panel


# --- rendering an LLM answer ---------------------------------------------------

PASSAGE = "The council voted 7 to 2 on Monday. The mayor said it was a good day."


def citation(n: int, passage: str = PASSAGE) -> Citation:
    """A generated answer's citation: the whole passage, as answer_from_reply makes it."""
    return Citation(
        n, f"a{n}", f"Council {n}", "Gazette", None, None, passage, 0, len(passage), sentence=passage
    )


def llm_answer() -> Answer:
    supported = AnswerSentence("The council voted 7 to 2 [1].", [1], True)
    hostile = AnswerSentence(
        f"The mayor **wept** {SCRIPT} {PHISH} [3].",
        [3],
        False,
        [f'the name "{SCRIPT}" is not in the cited passage', f"the number 9 {PHISH} is not in it"],
    )
    uncited = AnswerSentence("It rained.", [], False, ["the sentence cites no source"])
    return Answer(
        "What did the council do?",
        " ".join(s.text for s in (supported, hostile, uncited)),
        False,
        [supported, hostile, uncited],
        [citation(1), citation(2, "Nothing cited here."), citation(3)],
        mode="llm",
        notice=f"1 unsupported sentence(s) {SCRIPT}",
    )


def unescaped(md: str) -> list[str]:
    """Characters of `md` that could open Markdown or HTML markup: punctuation not backslash-escaped, `<>&`."""
    found, i = [], 0
    while i < len(md):
        if md[i] == "\\" and i + 1 < len(md) and md[i + 1] != "\n":
            i += 2
            continue
        if (
            md[i] in MARKDOWN_PUNCTUATION
            or md[i] in "<>"
            or (md[i] == "&" and not re.match(r"&(amp|lt|gt);", md[i:]))
        ):
            found.append(md[i])
        i += 1
    return found


def test_an_unsupported_sentence_is_marked_with_its_problems_and_model_text_is_escaped():
    answer = llm_answer()
    reply = render.answer_markdown(answer)
    notice, body = reply.split("\n\n")
    assert notice == f"> {render.REFUSAL_MARK} {render.md_text(answer.notice)}"  # above the answer
    assert unescaped(notice.removeprefix(f"> {render.REFUSAL_MARK} ")) == []
    supported, hostile, uncited = (render.sentence_markdown(s) for s in answer.sentences)
    assert body == f"{supported} {hostile} {uncited}"

    assert supported == r"The council voted 7 to 2\. **\[1\]**"  # plain, its inline [1] shown once, in bold
    marked = re.fullmatch(rf"{re.escape(render.UNSUPPORTED_MARK)} \*(.+)\* \*\*\\\[3\\\]\*\* (.+)", hostile)
    assert marked, hostile  # the badge, the sentence in italics, its [3], then why
    sentence, problems = marked.groups()
    assert sentence == render.md_text(f"The mayor **wept** {SCRIPT} {PHISH}.")
    assert problems == render.md_text(f"(unsupported: {'; '.join(answer.sentences[1].problems)})")
    assert unescaped(sentence) == [] and unescaped(problems) == []  # no link, tag or emphasis of the model's
    assert uncited == (
        f"{render.UNSUPPORTED_MARK} *It rained\\.* {render.md_text('(unsupported: the sentence cites no source)')}"
    )
    assert "<script" not in reply and "&lt;script&gt;" in sentence and "&lt;script&gt;" in problems

    assert all(p.startswith(notice) for p in render.answer_stream(answer))  # the notice above every prefix


def test_the_sources_of_an_llm_answer_are_the_passages_it_cites():
    panel = render.sources_html(llm_answer())
    assert 'id="nr-cite-1"' in panel and 'id="nr-cite-3"' in panel and 'id="nr-cite-2"' not in panel
    assert "Nothing cited here." not in panel


def test_text_being_written_is_escaped_and_marked_as_not_yet_checked():
    shown = render.writing_markdown(f"The **mayor** {SCRIPT} {PHISH} [1]")
    assert shown.endswith(f" {render.WRITING_MARK}") and "<script" not in shown
    assert unescaped(shown.removesuffix(f" {render.WRITING_MARK}")) == []


def test_a_sentence_whose_source_the_check_found_says_so():
    sentence = AnswerSentence("Leon Yeaman was 55 years old. [2]", [2], True, attributed=True)
    assert render.sentence_markdown(sentence) == (
        r"Leon Yeaman was 55 years old\. **\[2\]** " + render.md_text(f"({render.ATTRIBUTED_NOTE})")
    )
