import logging

from flask import request

logger = logging.getLogger(__name__)


def login():
    user = request.form["user"]
    # ruleid: log-injection
    logger.info("login attempt for %s", user)
    # ruleid: log-injection
    logging.warning("failed login: " + user)
    # ok: log-injection
    logger.info("login attempt for %s", user.replace("\n", "").replace("\r", ""))


def fixed(user):
    # ok: log-injection
    logger.info("login attempt for %s", user)
