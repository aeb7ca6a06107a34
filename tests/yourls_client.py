"""YOURLS client conformance: the PyPI `yourls` client against a real kurz.

Run by .ci/yourls.sh, which starts `kurz serve` and passes where it listens
(KURZ_URL), its API key (KURZ_KEY) and its YOURLS signature token
(KURZ_YOURLS_TOKEN). Any failed check raises, so the script exits non-zero.
"""

import hashlib
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import requests
import yourls

BASE = os.environ["KURZ_URL"].rstrip("/")
KEY = os.environ["KURZ_KEY"]
TOKEN = os.environ["KURZ_YOURLS_TOKEN"]
API = BASE + "/yourls-api.php"

checks = 0


def check(cond, what):
    """Fails the run with `what` unless `cond`."""
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def raises(exc_type, fn, *args, **kwargs):
    """The exception of type `exc_type` that `fn(*args, **kwargs)` raises."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError(f"{fn.__name__}{args} did not raise {exc_type.__name__}")


client = yourls.YOURLSClient(API, signature=KEY)

# shorten: a chosen keyword with a title, then a generated keyword.
long_url = "https://conformance.example/page?a=1&b=2"
made = client.shorten(long_url, keyword="conf", title="Conformance page")
check(made.shorturl == BASE + "/conf", f"shorturl {made.shorturl}")
check(made.url == long_url, f"url {made.url}")
check(made.keyword == "conf", f"keyword {made.keyword}")
check(made.title == "Conformance page", f"title {made.title}")
check(made.ip == "", f"ip {made.ip!r}")
check(abs(made.date - datetime.now(timezone.utc).replace(tzinfo=None)) < timedelta(minutes=5), f"date {made.date}")

other = client.shorten("https://conformance.example/other")
check(len(other.keyword) == 7 and other.shorturl == BASE + "/" + other.keyword,
      f"generated {other.keyword} {other.shorturl}")
check(other.title == "https://conformance.example/other", f"title {other.title}")

# The short URL redirects.
r = requests.get(made.shorturl, allow_redirects=False, timeout=10)
check(r.status_code == 302 and r.headers["location"] == long_url,
      f"redirect {r.status_code} {r.headers.get('location')}")

# expand: a keyword or the short URL.
check(client.expand("conf") == long_url, "expand keyword")
check(client.expand(BASE + "/conf") == long_url, "expand short URL")
e = raises(yourls.YOURLSHTTPError, client.expand, "nothing-here")
check(e.response.status_code == 404, f"expand unknown: {e.response.status_code}")
check(str(e) == "Error: short URL not found", f"expand unknown: {e}")

# url_stats: the click above is counted.
stats = client.url_stats("conf")
check(stats.shorturl == BASE + "/conf", f"url_stats shorturl {stats.shorturl}")
check(stats.url == long_url, f"url_stats url {stats.url}")
check(stats.clicks == 1, f"url_stats clicks {stats.clicks}")
check(stats.date == made.date, f"url_stats date {stats.date} != {made.date}")
check(client.url_stats(BASE + "/" + other.keyword).clicks == 0, "url_stats other")

# stats: every filter, and the totals.
links, db = client.stats("top", 2)
check([link.shorturl for link in links] == [made.shorturl, other.shorturl],
      f"top {links}")
check(links[0].clicks == 1 and links[1].clicks == 0, f"top clicks {links}")
check((db.total_links, db.total_clicks) == (2, 1), f"stats totals {db}")
links, _ = client.stats("bottom", 1)
check([link.shorturl for link in links] == [other.shorturl], f"bottom {links}")
links, _ = client.stats("last", 2)
check([link.shorturl for link in links] == [other.shorturl, made.shorturl], f"last {links}")
links, _ = client.stats("top", 1, start=1)
check([link.shorturl for link in links] == [other.shorturl], f"top start=1 {links}")
links, _ = client.stats("random", 2)
check(sorted(link.shorturl for link in links) == sorted([made.shorturl, other.shorturl]),
      f"rand {links}")
check(client.db_stats() == yourls.DBStats(total_clicks=1, total_links=2), "db_stats")

# Failures, as YOURLS reports them (its 400s reach this client as HTTP errors).
e = raises(yourls.YOURLSHTTPError, client.shorten, long_url)
body = e.response.json()
check(e.response.status_code == 400, f"known URL: {e.response.status_code}")
check(body["code"] == "error:url" and body["shorturl"] == made.shorturl, f"known URL: {body}")
e = raises(yourls.YOURLSHTTPError, client.shorten, "https://fresh.example/", keyword="conf")
check(e.response.json()["code"] == "error:keyword", f"taken keyword: {e.response.json()}")
raises(yourls.YOURLSNoURLError, client.shorten, "not a url")
raises(yourls.YOURLSNoLoopError, client.shorten, made.shorturl)

# Auth: a wrong signature, user + password, the token, a timestamped token.
e = raises(yourls.YOURLSHTTPError, yourls.YOURLSClient(API, signature="wrong").db_stats)
check(e.response.status_code == 403 and str(e) == "Please log in", f"wrong signature: {e}")
by_password = yourls.YOURLSClient(API, username="admin", password=KEY)
check(by_password.expand("conf") == long_url, "username + password")
e = raises(yourls.YOURLSHTTPError,
           yourls.YOURLSClient(API, username="admin", password="wrong").db_stats)
check(str(e) == "Invalid username or password", f"wrong password: {e}")
check(yourls.YOURLSClient(API, signature=TOKEN).expand("conf") == long_url, "token")
ts = str(int(time.time()))
signature = hashlib.md5((ts + TOKEN).encode()).hexdigest()
r = requests.get(API, params={"action": "expand", "shorturl": "conf", "format": "json",
                              "timestamp": ts, "signature": signature}, timeout=10)
check(r.status_code == 200 and r.json()["longurl"] == long_url, f"timestamped: {r.text}")
old = str(int(time.time()) - 50_000)
signature = hashlib.md5((old + TOKEN).encode()).hexdigest()
r = requests.get(API, params={"action": "expand", "shorturl": "conf", "format": "json",
                              "timestamp": old, "signature": signature}, timeout=10)
check(r.status_code == 403, f"old timestamp: {r.status_code} {r.text}")

# POST, as forms send it and as PHP's curl sends an array (multipart).
fields = {"action": "expand", "shorturl": "conf", "format": "json", "signature": KEY}
r = requests.post(API, data=fields, timeout=10)
check(r.status_code == 200 and r.json()["longurl"] == long_url, f"POST form: {r.text}")
r = requests.post(API, files={k: (None, v) for k, v in fields.items()}, timeout=10)
check(r.status_code == 200 and r.json()["longurl"] == long_url, f"POST multipart: {r.text}")

print(f"yourls client conformance: {checks} checks passed", file=sys.stderr)
