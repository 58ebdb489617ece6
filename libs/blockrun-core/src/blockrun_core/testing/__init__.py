"""A local BlockRun-compatible gateway for tests, demos and offline development.

``LocalGateway`` speaks BlockRun's wire protocol (x402 v2 challenges, real EIP-3009
signature verification, settlement receipts, the ``brk_`` account rail, SSE streaming) over
a deterministic, scriptable fake model, with fault injection. Needs the ``gateway`` extra
(``blockrun-core[gateway]``: starlette and uvicorn), imported only when a server or app
is built.
"""

from __future__ import annotations

from .faults import Fault, FaultKind, Phase, Stage
from .gateway import LocalGateway, RecordedRequest
from .model import FakeModel, ModelOutput, ToolCall
from .payer import HARDHAT_KEY, Payer
from .payments import DEFAULT_PAY_TO, RecordedPayment

__all__ = [
    "DEFAULT_PAY_TO",
    "HARDHAT_KEY",
    "FakeModel",
    "Fault",
    "FaultKind",
    "LocalGateway",
    "ModelOutput",
    "Payer",
    "Phase",
    "RecordedPayment",
    "RecordedRequest",
    "Stage",
    "ToolCall",
]
