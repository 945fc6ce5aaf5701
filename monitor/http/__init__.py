"""The daemon's one HTTP application (Litestar on uvicorn): ack links, feedback intake, status pages."""
