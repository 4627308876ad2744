"""The request headers each traffic profile sends: what bot management gets to judge.

    BROWSER_UAS[0]      # a current desktop Chrome
    BOT_UAS             # scrapers and HTTP libraries, sent without cookies or Accept-Language

Browsers look like browsers (Accept, Accept-Language, a session cookie), API clients like a
mobile app, bots like scrapers; attackers use attack tools' agents or a copied browser one.
"""

from __future__ import annotations

BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
API_UA = "shop-app/5.2.1 (Android 14; Pixel 8)"
BOT_UAS = (
    "python-requests/2.31.0",
    "Scrapy/2.11.0 (+https://scrapy.org)",
    "curl/8.4.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
ATTACKER_UAS = ("sqlmap/1.7.2#stable (https://sqlmap.org)", "Nikto/2.5.0", BROWSER_UAS[0])
