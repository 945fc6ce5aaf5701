"""Feedback handed to yuqing directly: the website/app intake API, the hosted form, staff registration
of hotline calls and in-store feedback, and the weekly feedback-box slips (``docs/intake.zh.md``)."""
