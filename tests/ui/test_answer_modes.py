"""Answer modes are the engine's answerers: one registered by name is offered by a new app and answers."""

from __future__ import annotations

import gradio as gr
from sample_data import SEED_QUESTION, SEED_TITLE

from newsrag.rag.engine import NewsRAG
from newsrag.ui import render
from newsrag.ui.app import NewsApp, build_app

MAYOR_QUESTION = "What did the mayor of Minneapolis say?"  # the two answerers quote different sentences


def mode_control(demo: gr.Blocks) -> gr.Dropdown:
    return next(b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Answer mode")


def test_a_registered_answerer_is_a_mode_of_a_new_app_and_answers_when_chosen(
    small_index, embedder, first_sentence
):
    engine = NewsRAG(small_index, embedder)
    mode = mode_control(build_app(engine, small_index))
    assert [value for _, value in mode.choices] == ["extractive", first_sentence]
    assert mode.value == small_index.answerer == "extractive"

    *_, (reply, panel) = NewsApp(engine, small_index).chat(MAYOR_QUESTION, [], mode=first_sentence)
    answer = engine.ask(MAYOR_QUESTION, answerer=first_sentence)
    assert answer.mode == first_sentence and not answer.refused
    assert answer.text != engine.ask(MAYOR_QUESTION).text
    assert reply == render.answer_markdown(answer) and reply.endswith(r"**\[1\]**")
    cited = answer.citations[0]
    assert engine.article(cited.article_id).text[cited.start : cited.end] == cited.sentence
    assert cited.sentence == answer.sentences[0].text and cited.sentence in cited.passage
    assert SEED_TITLE in panel and f"<mark>{render.esc(cited.sentence)}</mark>" in panel


def test_an_unknown_answerer_is_said_in_the_chat_and_stays_choosable(small_index, embedder):
    settings = small_index.replace(answerer="no-such-answerer")
    engine = NewsRAG(settings, embedder)
    mode = mode_control(build_app(engine, settings))
    assert mode.value == "no-such-answerer" and ("extractive", "extractive") in mode.choices

    [(reply, _)] = NewsApp(engine, settings).chat(SEED_QUESTION, [], mode="no-such-answerer")
    assert reply.startswith(f"> {render.REFUSAL_MARK}")
    assert "is not a known answerer" in reply and "extractive" in reply
