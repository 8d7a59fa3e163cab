"""`python -m api`: serve the api with uvicorn on API_HOST:API_PORT."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from api.main import create_app
from api.settings import get_settings


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as refused:
        for error in refused.errors():
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            print(f"error: {where + ': ' if where else ''}{message}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
