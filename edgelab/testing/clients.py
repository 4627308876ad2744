"""Realistic request header sets, in the order real clients send them, for bot-scoring tests.

    headers = CLIENT_PROFILES["chrome"]          # list of (name, value), browser order
    is_bot = PROFILE_IS_BOT["chrome"]            # False

Browsers send many headers in a fixed order (Chrome's client hints and fetch metadata first,
Firefox's `Accept-Language` before `Accept-Encoding`); HTTP libraries and scrapers send few. The
load tests' user classes and the bot-management tests both draw from here.
"""

from __future__ import annotations

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

CLIENT_PROFILES: dict[str, list[tuple[str, str]]] = {
    "chrome": [
        ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'),
        ("sec-ch-ua-mobile", "?0"),
        ("sec-ch-ua-platform", '"Windows"'),
        ("Upgrade-Insecure-Requests", "1"),
        ("User-Agent", CHROME_UA),
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        ),
        ("Sec-Fetch-Site", "none"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-User", "?1"),
        ("Sec-Fetch-Dest", "document"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Accept-Language", "en-US,en;q=0.9"),
    ],
    "firefox": [
        ("User-Agent", FIREFOX_UA),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.5"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Upgrade-Insecure-Requests", "1"),
        ("Sec-Fetch-Dest", "document"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Priority", "u=0, i"),
    ],
    "safari": [
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Sec-Fetch-Site", "none"),
        ("Sec-Fetch-Mode", "navigate"),
        ("User-Agent", SAFARI_UA),
        ("Accept-Language", "en-GB,en;q=0.9"),
        ("Sec-Fetch-Dest", "document"),
        ("Accept-Encoding", "gzip, deflate, br"),
    ],
    "chrome-asset": [
        ("sec-ch-ua-platform", '"Windows"'),
        ("User-Agent", CHROME_UA),
        ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'),
        ("sec-ch-ua-mobile", "?0"),
        ("Accept", "*/*"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Mode", "no-cors"),
        ("Sec-Fetch-Dest", "script"),
        ("Referer", "http://shop.example/page/1"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Accept-Language", "en-US,en;q=0.9"),
    ],
    "python-requests": [
        ("User-Agent", "python-requests/2.32.3"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
    ],
    "locust-fasthttp": [
        ("User-Agent", "python/gevent-http-client-2.3.1"),
        ("Accept-Encoding", "gzip, deflate"),
    ],
    "curl": [("User-Agent", "curl/8.5.0"), ("Accept", "*/*")],
    "go": [("User-Agent", "Go-http-client/1.1"), ("Accept-Encoding", "gzip")],
    "scrapy": [
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en"),
        ("User-Agent", "Scrapy/2.11.2 (+https://scrapy.org)"),
        ("Accept-Encoding", "gzip, deflate"),
    ],
    "googlebot": [
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (
            "User-Agent",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ),
        ("Accept-Encoding", "gzip, deflate, br"),
    ],
    "headless": [
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36",
        ),
        ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, br"),
    ],
    "locust-browser": [  # loadtests' BrowserUser through Locust's FastHttpUser
        ("User-Agent", FIREFOX_UA),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.9"),
        ("Cookie", "session=5f0c1e2d3a4b5c6d"),
        ("Accept-Encoding", "gzip, deflate, br"),
    ],
    "app": [  # a mobile app's API client: no browser headers, but a signed-in user
        ("User-Agent", "shop-app/5.2.1 (Android 14; Pixel 8)"),
        ("Accept", "application/json"),
        ("Authorization", "Bearer 9c1d0e7f55aa"),
        ("Accept-Encoding", "gzip, deflate, br"),
    ],
    "ahrefsbot": [
        ("User-Agent", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip, deflate, br"),
    ],
    "stealth-scraper": [
        ("User-Agent", CHROME_UA),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
    ],
}

BROWSERS = ("chrome", "firefox", "safari", "chrome-asset", "locust-browser")
APPS = ("app",)
"""Legitimate clients that are not browsers: they score in the middle, above bot rules."""
PROFILE_IS_BOT = {name: name not in BROWSERS + APPS for name in CLIENT_PROFILES}
"""Profile name -> whether it is automated traffic (scrapers, crawlers, HTTP libraries)."""
