"""``feedback:`` configuration: satisfaction follow-ups on resolve and survey campaigns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TEMPLATE = (
    "您好，您反馈的问题（工单 {code}）已处理完毕。请回复 1 满意 / 2 一般 / 3 不满意，欢迎留下意见。{link}\n"
    "Hello, your request {code} has been resolved. Please reply 1 satisfied / 2 neutral / 3 dissatisfied, "
    "with any comments. {link}"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SatisfactionConfig(_Model):
    """A follow-up for every resolved ticket: an e-mail reply on its thread, else a message
    template (with the signed link when ``alerts.ack`` is enabled) for staff to post."""

    enabled: bool = True
    mail_target: str | None = None
    """An ``alerts.targets`` entry of kind ``email``: its SMTP server and From address send the
    follow-ups (none: e-mail tickets get the template too)."""
    within_days: float = Field(7.0, gt=0)
    """Resolves older than this get no follow-up (a first start on an old database mails nobody)."""
    template: str = DEFAULT_TEMPLATE
    """Text for channels yuqing cannot answer on (posts, chats): ``{code}``, ``{link}``."""
    interval_seconds: float = Field(60.0, gt=0)


class SurveyConfig(_Model):
    """``yuqing survey send``: who may be mailed how fast."""

    mail_target: str | None = None
    """Default: ``satisfaction.mail_target``."""
    per_minute: float = Field(30.0, gt=0)
    """Rate limit: at most this many questionnaires a minute (paced evenly)."""
    since_days: float = Field(90.0, gt=0)
    """Without ``--since`` / ``--csv``: customers of tickets created in this many days."""
    profile: str = "survey"
    """SLA profile of tickets made from negative answers (default: 10 working days to a solution)."""


class FeedbackConfig(_Model):
    satisfaction: SatisfactionConfig = SatisfactionConfig()
    surveys: SurveyConfig = SurveyConfig()

    @property
    def survey_mail_target(self) -> str | None:
        return self.surveys.mail_target or self.satisfaction.mail_target
