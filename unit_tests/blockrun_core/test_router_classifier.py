"""The rule classifier: tiers across languages, known failure modes, the whole request
(history, system prompt, tools, images, JSON, size), confidence, robustness and bounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from blockrun_core.router import classifier as classifier_module
from blockrun_core.router.classifier import classify
from blockrun_core.router.lexicon import scan
from blockrun_core.router.types import TIERS, Classification, RouteRequest, Tier
from hypothesis import given, settings
from hypothesis import strategies as st

TOOL = {
    "type": "function",
    "function": {"name": "search", "parameters": {"type": "object", "properties": {}}},
}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def ask(
    prompt: Any,
    *,
    system: str | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    tools: int = 0,
    json: bool = False,
) -> Classification:
    messages: list[Mapping[str, Any]] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.extend(history)
    messages.append({"role": "user", "content": prompt})
    return classify(
        RouteRequest(
            messages=messages,
            tools=[TOOL] * tools or None,
            response_format={"type": "json_object"} if json else None,
        )
    )


def rank(tier: Tier) -> int:
    return TIERS.index(tier)


# ---------------------------------------------------------------- tiers, ten languages

SIMPLE = [
    "hi",
    "What's the capital of Canada?",
    "Translate 'good night' into German.",
    "How many grams are in a kilogram?",
    "北京是中国的首都吗？",
    "ありがとうございました！",
    "한국의 수도는 어디야?",
    "Кто изобрёл телефон?",
    "Was ist die Hauptstadt von Österreich?",
    "¿Quién escribió Don Quijote?",
    "Bom dia! Tudo bem?",
    "ما هي عاصمة مصر؟",
    "Qui a écrit Les Misérables ?",
]
MEDIUM = [
    "Write a Python function that merges two sorted lists into one sorted list.",
    "Explain how vaccines train the immune system.",
    "Write a friendly email inviting my coworkers to a farewell lunch on Friday.",
    "用JavaScript写一个防抖函数，并解释它的原理。",
    "TCPとUDPの違いを例を挙げて説明してください。",
    "파이썬으로 CSV 파일을 읽어서 평균을 구하는 코드 짜줘.",
    "Напиши письмо клиенту с извинениями за задержку заказа.",
    "Erkläre mir, wie eine Wärmepumpe funktioniert.",
    "Escribe una función en Python que invierta una cadena.",
    "Explica a diferença entre juros simples e compostos com exemplos.",
    "اكتب رسالة شكر لزميل ساعدني في مشروع.",
    "Écris une fonction JavaScript qui valide une adresse e-mail.",
]
COMPLEX = [
    "Design a scalable architecture for a food delivery platform handling 2M orders per day:"
    " services, data stores, messaging, caching and failure handling.",
    "Refactor our legacy monolith into microservices without downtime; plan the migration"
    " across the codebase.",
    "Perform a security audit of our authentication flow and list every vulnerability with fixes.",
    "Design a URL shortener like bit.ly.",
    "设计一个支持千万级用户的即时通讯系统架构，包括消息存储、推送、离线消息和多端同步。",
    "大規模ECサイトのマイクロサービス設計を考えてください。決済、在庫、配送の整合性も含めて。",
    "대규모 트래픽을 처리하는 분산 캐시 아키텍처를 설계해줘.",
    "Спроектируй отказоустойчивую архитектуру платёжной системы с репликацией между дата-центрами.",
    "Entwirf eine skalierbare Architektur für eine Streaming-Plattform mit 5 Millionen Nutzern.",
    "Diseña la arquitectura de un sistema distribuido de reservas de vuelos con alta"
    " disponibilidad.",
    "Projete uma arquitetura de microsserviços escalável para um banco digital.",
    "صمم معمارية نظام حجز تذاكر قابل للتوسع لملايين المستخدمين.",
    "Conçois une architecture distribuée et tolérante aux pannes pour un service de paiement.",
]
REASONING = [
    "Prove that there is no largest prime number.",
    "Derive the formula for the variance of a binomial distribution.",
    "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball."
    " How much does the ball cost?",
    "证明：对任意正整数n，n^2+n是偶数。",
    "√2が無理数であることを証明してください。",
    "모든 자연수 n에 대해 1+2+...+n = n(n+1)/2 임을 증명하세요.",
    "Докажи, что сумма углов треугольника равна 180 градусам.",
    "Beweise, dass es unendlich viele Primzahlen gibt.",
    "Demuestra que la raíz cuadrada de 3 es irracional.",
    "Prove que a soma de dois números ímpares é par.",
    "أثبت أن مجموع أول n عدد فردي يساوي n².",
    "Démontre que pour tout entier n, n³ − n est divisible par 3.",
]


@pytest.mark.parametrize(
    ("prompt", "tier"),
    [(p, "SIMPLE") for p in SIMPLE]
    + [(p, "MEDIUM") for p in MEDIUM]
    + [(p, "COMPLEX") for p in COMPLEX]
    + [(p, "REASONING") for p in REASONING],
)
def test_each_tier_in_many_languages(prompt: str, tier: Tier) -> None:
    assert ask(prompt).tier == tier


# ---------------------------------------------------------------- known failure modes


def test_keywords_match_whole_words_only() -> None:
    # "define" is not "def", "scholarly" holds no "hola", "history" no "story", "prefix"
    # no "fix": substring matching would see code, greetings, stories and bug fixes.
    defined = ask("Define entropy in one sentence.")
    assert defined.tier == "SIMPLE"
    assert "code task" not in defined.signals
    scholarly = ask("Recommend a scholarly book on the history of prefix notation.")
    assert "greeting or small talk" not in scholarly.signals
    assert "writing task" not in scholarly.signals
    assert "asks to find a cause or review" not in scholarly.signals


def test_each_concept_counts_once() -> None:
    once = ask("Prove that n^3 - n is divisible by 6.")
    many = ask("Prove, prove, prove: prove that n^3 - n is divisible by 6. Proving it, prove it.")
    assert once.tier == many.tier == "REASONING"
    assert many.signals.count("asks for a proof or derivation") == 1


@pytest.mark.parametrize(
    "prompt",
    [
        "What is a theorem?",
        "What is a proof in mathematics? One sentence please.",
        "O que é um teorema?",
        "C'est quoi, un théorème ? En une phrase.",
        "「定理」ってどういう意味？一言で。",
        "What is a lemma?",
    ],
)
def test_definition_of_a_maths_word_is_simple(prompt: str) -> None:
    assert ask(prompt).tier == "SIMPLE"


@pytest.mark.parametrize(
    "prompt",
    [
        "what is 15% of 80",
        "what is 17*3",
        "15乘以24等于多少？",
        "Combien font 9 fois 13 ?",
        "Сколько будет 48 разделить на 6?",
    ],
)
def test_arithmetic_is_simple(prompt: str) -> None:
    verdict = ask(prompt)
    assert verdict.tier == "SIMPLE"
    assert "arithmetic" in verdict.signals


def test_an_equation_with_a_real_task_is_not_arithmetic() -> None:
    assert ask("Find all real x such that |x - 3| + |x + 1| = 6.").tier == "REASONING"


@pytest.mark.parametrize(
    "prompt",
    [
        "Design a rate limiter for a public API doing 50k requests/s across 20 nodes.",
        "Refactor the whole codebase to dependency injection and migrate it to Python 3.12.",
        "Write a complete business plan for a coffee startup: market analysis, competitors,"
        " pricing, marketing, financial projections and risks.",
        "Threat model our mobile banking app and prioritize mitigations.",
    ],
)
def test_complex_is_reachable(prompt: str) -> None:
    assert ask(prompt).tier == "COMPLEX"


def test_cjk_matches_without_spaces() -> None:
    assert ask("请证明勾股定理").tier == "REASONING"
    assert ask("设计一个高并发的分布式消息队列系统架构").tier == "COMPLEX"
    # Latin words glued to CJK text are still words.
    assert "code task" in ask("PythonでJSONファイルを読む関数を書いてください").signals


def test_reasoning_hidden_in_plain_words() -> None:
    puzzle = (
        "You have 12 coins that look the same; one is fake and is either heavier or lighter."
        " Using a balance scale only three times, find the fake coin."
    )
    assert ask(puzzle).tier == "REASONING"
    trap = "Two trains 300 km apart head toward each other at 60 and 90 km/h. When do they meet?"
    assert ask(trap).tier == "REASONING"


def test_mentioning_a_proof_is_not_asking_for_one() -> None:
    prompt = (
        "Explain Fermat's Last Theorem and why it was so hard to prove, for a general audience."
    )
    assert ask(prompt).tier == "MEDIUM"


# ---------------------------------------------------------------- the whole request


def turns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in pairs]


def test_a_short_follow_up_carries_on_the_earlier_task() -> None:
    maths = turns(
        ("user", "How many subsets of {1, ..., 10} contain no two consecutive numbers?"),
        ("assistant", "144, by a Fibonacci recurrence."),
    )
    follow_up = ask("and now the proof?", history=maths)
    assert follow_up.tier == "REASONING"
    assert any("follow-up" in signal for signal in follow_up.signals)

    article = turns(
        ("user", "Write a 1000-word blog article about intermittent fasting."),
        ("assistant", "## What is intermittent fasting\n..."),
    )
    assert ask("continue", history=article).tier == "MEDIUM"
    assert ask("продолжай", history=article).tier == "MEDIUM"


def test_go_ahead_after_a_multi_part_plan_is_complex() -> None:
    plan = turns(
        ("user", "We need to split our monolith's billing into its own service."),
        ("assistant", "Steps:\n1. Define the API\n2. Dual-write\n3. Backfill\n4. Switch reads"),
    )
    assert ask("go ahead", history=plan).tier == "COMPLEX"
    assert ask("ok do all of it", history=plan).tier == "COMPLEX"


def test_a_closing_pleasantry_stays_simple() -> None:
    design = turns(("user", "Design a sharded key-value store."), ("assistant", "Here is..."))
    assert ask("thanks!", history=design).tier == "SIMPLE"


def test_tools_signal_and_floor() -> None:
    lookup = ask("What's the weather in Paris today?", tools=2)
    assert "2 tools offered" in lookup.signals
    assert rank(lookup.tier) >= rank("MEDIUM")
    agent = ask(
        "Go through the repo, find every call to the old payments API, migrate them to v2,"
        " run the tests and open a PR.",
        tools=2,
    )
    assert agent.tier == "COMPLEX"
    proof_with_tools = ask("Use the tool to check n up to 100, then prove 2^n > n^2 for n > 4.")
    assert proof_with_tools.tier == "REASONING"


def test_tool_results_after_the_user_turn_mean_a_tool_loop() -> None:
    messages: list[Mapping[str, Any]] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "content": "{}"},
    ]
    verdict = classify(RouteRequest(messages=messages))
    assert "mid tool loop" in verdict.signals
    assert rank(verdict.tier) >= rank("MEDIUM")


def test_structured_output_signal_and_floor() -> None:
    verdict = ask("Give me the capital of Peru.", json=True)
    assert "structured output requested" in verdict.signals
    assert verdict.tier == "MEDIUM"
    system_json = ask("hello", system="Always answer with a JSON object.")
    assert "system prompt asks for JSON" in system_json.signals
    assert system_json.tier == "MEDIUM"


def test_images_are_a_signal_not_a_tier() -> None:
    glance = ask([{"type": "text", "text": "What color is the car?"}, IMAGE])
    assert "image attached" in glance.signals
    assert glance.tier == "SIMPLE"
    chart = ask([{"type": "text", "text": "Describe this chart and the trend it shows."}, IMAGE])
    assert chart.tier == "MEDIUM"


def test_system_prompt_nudges_but_does_not_decide() -> None:
    architect = "You are a senior distributed-systems architect designing storage at scale."
    assert ask("What does the acronym RAID stand for?", system=architect).tier == "SIMPLE"
    concise = "You are a senior staff engineer. Be concise."
    assert ask(
        "We need to shard our 4 TB Postgres without downtime. Plan it.", system=concise
    ).tier == ("COMPLEX")


def test_long_input_with_a_simple_task_stays_cheap() -> None:
    text = "The supplier shall deliver goods within fourteen days of the order date. " * 2_000
    verdict = ask("Translate this contract into German:\n" + text)
    assert verdict.tier == "SIMPLE"
    assert any(s.startswith("long input (") and "simple task" in s for s in verdict.signals)
    assert any(s.startswith("long turn sampled") for s in verdict.signals)


def test_huge_input_with_a_real_task_goes_up() -> None:
    code = "def handler(event):\n    total = compute(event)\n    return {'total': total}\n" * 3_000
    verdict = ask("Find the race condition in this service and fix it properly.\n" + code)
    assert verdict.tier == "COMPLEX"
    assert any(s.startswith("long input (") for s in verdict.signals)


def test_a_question_answered_from_a_paste_is_simple() -> None:
    log = "\n".join(
        f"2024-07-01 10:{i:02d}:00 INFO batch {i} done in {30 + i}ms" for i in range(40)
    )
    assert ask("Which line mentions batch 17?\n" + log).tier == "SIMPLE"
    assert ask("Summarize this log and list anomalies:\n" + log).tier == "MEDIUM"


# ---------------------------------------------------------------- confidence, determinism


def test_confidence_is_higher_for_clear_cases() -> None:
    clear = [ask("hi"), ask("Prove that there are infinitely many primes.")]
    ambiguous = ask("Explain the CAP theorem.")
    for verdict in [*clear, ambiguous]:
        assert 0.0 <= verdict.confidence <= 1.0
    assert min(v.confidence for v in clear) > ambiguous.confidence + 0.1


def test_deterministic() -> None:
    prompt = "Design a URL shortener like bit.ly, with analytics and custom aliases."
    first = ask(prompt)
    assert all(ask(prompt) == first for _ in range(5))


# ---------------------------------------------------------------- robustness and bounds

PARTS = st.one_of(
    st.text(),
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"type": st.just("text"), "text": st.text()}),
            st.just(IMAGE),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
            st.none(),
        ),
        max_size=4,
    ),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    prompt=PARTS,
    system=st.one_of(st.none(), st.text()),
    earlier=st.lists(st.tuples(st.sampled_from(["user", "assistant", "tool"]), PARTS), max_size=3),
    tools=st.integers(min_value=0, max_value=3),
    json=st.booleans(),
)
def test_any_input_gives_a_valid_classification(
    prompt: Any, system: str | None, earlier: list[tuple[str, Any]], tools: int, json: bool
) -> None:
    history = [{"role": role, "content": content} for role, content in earlier]
    verdict = ask(prompt, system=system, history=history, tools=tools, json=json)
    assert verdict.tier in TIERS
    assert 0.0 <= verdict.confidence <= 1.0
    assert all(isinstance(signal, str) and signal for signal in verdict.signals)


def test_odd_message_shapes_are_tolerated() -> None:
    odd: Any = [  # not Mappings, on purpose
        None,
        3,
        {"role": "user"},
        {"content": "no role"},
        {"role": "user", "content": 7},
    ]
    assert classify(RouteRequest(messages=odd)).tier in TIERS
    assert classify(RouteRequest(messages=[])).tier in TIERS


MEGABYTE = 1_000_000


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "text",
    [
        "1" * MEGABYTE,  # one endless number next to scale and word-count patterns
        "9k " * (MEGABYTE // 3),
        "step by " * (MEGABYTE // 8),  # near-matches of a phrase
        "分" * MEGABYTE,  # a CJK entry's first character, over and over
        "分布" * (MEGABYTE // 2),
        "доказ" * (MEGABYTE // 5),
        "'" + "a" * MEGABYTE,  # an unclosed quote
        "\n" + " " * MEGABYTE + "1.",  # list-item and code-line scans
        ("x^2 = 3x + " * (MEGABYTE // 11)),
        "?" * MEGABYTE,
        "a1 " * (MEGABYTE // 3),
        "ال" * (MEGABYTE // 2),
        "éé " * (MEGABYTE // 3),
        "x: " + "a, " * (MEGABYTE // 3),
    ],
)
def test_a_megabyte_of_adversarial_input_finishes(text: str) -> None:
    # The patterns themselves are linear: run them over the whole megabyte, unsampled.
    scan(text.lower())
    classifier_module._Turn(text)
    for prompt in (text, "Explain this:\n" + text, text[:600]):
        assert classify(RouteRequest(messages=[{"role": "user", "content": prompt}])).tier in TIERS
    long_turns = [{"role": "system", "content": text}, {"role": "user", "content": text[:40]}]
    assert classify(RouteRequest(messages=long_turns)).tier in TIERS
