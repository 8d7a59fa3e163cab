"""`python -m api`: serve the api with uvicorn on API_HOST:API_PORT."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from api.main import create_app
from api.settings import get_settings, settings_problem


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"api: {settings_problem(exc)}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
