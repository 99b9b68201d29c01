"""Typed Textual messages that carry the engine's events into the app.

The run screen queues the events of its study's thread or of the journal it
reads, and its redraw timer hands each one, wrapped in its message here, to
the handler a posted message would reach. Other messages here are posted
as usual. Epoch messages of one trial replace each other in a queue, so a
flood of posted epoch updates is handled once instead of hundreds of times.
"""

from __future__ import annotations

import logging

from textual.message import Message

from tunescope.core.events import (
    EpochEnded,
    EpochStarted,
    Event,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)


class EngineMessage(Message):
    """An engine event, delivered to the screen that watches the study."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class StudyBegan(EngineMessage):
    event: StudyStarted


class TunerBegan(EngineMessage):
    event: TunerStarted


class TrialBegan(EngineMessage):
    event: TrialStarted


class _EpochMessage(EngineMessage):
    event: EpochStarted | EpochEnded

    def _same_trial(self, message: Message) -> bool:
        return (
            isinstance(message, _EpochMessage)
            and message.event.tuner == self.event.tuner
            and message.event.trial_id == self.event.trial_id
        )


class EpochBegan(_EpochMessage):
    """An epoch started; any later epoch message of the trial supersedes it."""

    event: EpochStarted

    def can_replace(self, message: Message) -> bool:
        # Textual drops this (older) message when it returns True for the
        # message queued right after it.
        return self._same_trial(message)


class EpochCompleted(_EpochMessage):
    """An epoch ended; only a later ended epoch of the trial supersedes it.

    A following `EpochBegan` does not, so the table keeps the metrics of the
    last epoch that finished.
    """

    event: EpochEnded

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EpochCompleted) and self._same_trial(message)


class TrialLanded(EngineMessage):
    event: TrialFinished


class RoundClosed(EngineMessage):
    event: RoundFinished


class TunerEnded(EngineMessage):
    event: TunerFinished


class StudyEnded(EngineMessage):
    event: StudyFinished


_MESSAGE_TYPES: dict[type[Event], type[EngineMessage]] = {
    StudyStarted: StudyBegan,
    TunerStarted: TunerBegan,
    TrialStarted: TrialBegan,
    EpochStarted: EpochBegan,
    EpochEnded: EpochCompleted,
    TrialFinished: TrialLanded,
    RoundFinished: RoundClosed,
    TunerFinished: TunerEnded,
    StudyFinished: StudyEnded,
}


def message_for(event: Event) -> EngineMessage:
    """Wrap an engine event in its Textual message; raises KeyError for an unknown event type."""
    return _MESSAGE_TYPES[type(event)](event)


class StudyAborted(Message):
    """The study stopped on an error before it could finish.

    `message` is one line for the person: a `TunescopeError`'s text, or the
    type and text of an unexpected exception.
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class DeviceFound(Message):
    """The device the study trains on, e.g. "GPU 0: NVIDIA H200"."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description


class LogRecorded(Message):
    """One formatted log record for the log pane."""

    def __init__(self, text: str, levelno: int = logging.INFO) -> None:
        super().__init__()
        self.text = text
        self.levelno = levelno
