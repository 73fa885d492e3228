"""`python -m readmission_api`: the command the image and the tests run."""

import logging

import uvicorn

from readmission_api.main import create_app
from readmission_api.settings import Settings


def main() -> None:
    settings = Settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_level="info",
        access_log=settings.ACCESS_LOG,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":  # not when a child process of the model loader imports it
    main()
