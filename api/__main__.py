"""`python -m api`: serve the api with uvicorn on API_HOST:API_PORT."""

from __future__ import annotations

import uvicorn

from api.main import create_app
from api.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
