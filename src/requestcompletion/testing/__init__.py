"""Tools for testing agents and workflows, the same ones rc's own tests use.

- `ScriptedModel`: answers from a list of replies or a function of the conversation.
- `SchemaModel` (also `TestModel`): calls every tool once, then answers to fit the schema.
- `RecordingSubscriber`: keeps a run's events for assertions.
- `block_real_requests()`: makes any provider request to a non-local host fail.

To test an agent your application builds with a real model, swap its model in the
test instead of rebuilding it through a factory (as Pydantic AI's ``Agent.override``)::

    with Researcher.override(llm=ScriptedModel(["a scripted answer"])):
        result = rc.call_sync(Researcher, "question")   # and any agent calling it
"""

from .models import (
    ModelCall,
    SchemaModel,
    ScriptedModel,
    TestModel,
    block_real_requests,
    real_requests_blocked,
    sample_from_schema,
)
from .recording import RecordingSubscriber

__all__ = [
    "ModelCall",
    "RecordingSubscriber",
    "SchemaModel",
    "ScriptedModel",
    "TestModel",
    "block_real_requests",
    "real_requests_blocked",
    "sample_from_schema",
]
