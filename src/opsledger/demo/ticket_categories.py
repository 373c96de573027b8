"""What the demo's support tickets are about: queues, recurring categories and their wording.

Each category has a handful of ways customers word the same request, a lognormal handle
time (median and log-space sigma) and the services it usually concerns; the generator in
:mod:`opsledger.demo.tickets` draws from these.
"""

from __future__ import annotations

from dataclasses import dataclass

BROWSERS = ("Safari", "Firefox", "Chrome", "Edge")


@dataclass(frozen=True)
class Category:
    queue: str
    name: str
    weight: float
    handle_median_minutes: float
    handle_sigma: float
    titles: tuple[str, ...]
    services: tuple[str, ...] = ()
    priorities: tuple[float, float, float, float] = (0.01, 0.09, 0.6, 0.3)  # P1..P4


CATEGORIES = (
    Category(
        "access",
        "password reset",
        14,
        6,
        0.45,
        (
            "Password reset not working",
            "Can't reset my password",
            "Reset password link expired",
            "Password reset request",
            "Password reset email not received",
            "Forgot password, reset link does not arrive",
        ),
        ("auth",),
    ),
    Category(
        "access",
        "account locked",
        5,
        8,
        0.5,
        (
            "Account locked after failed logins",
            "My account is locked",
            "Locked out of account",
            "Unlock account for {user}",
        ),
        ("auth", "session-store"),
    ),
    Category(
        "access",
        "mfa reset",
        5,
        11,
        0.5,
        (
            "Lost phone, need MFA reset",
            "Reset two-factor authentication",
            "MFA codes not accepted",
            "New phone - reset 2FA",
        ),
        ("auth",),
    ),
    Category(
        "access",
        "sso login failing",
        3,
        28,
        0.6,
        (
            "SSO login failing for our team",
            "SAML login error after IdP change",
            "Single sign-on redirects in a loop",
        ),
        ("auth",),
        (0.03, 0.27, 0.55, 0.15),
    ),
    Category(
        "access",
        "api key rotation",
        4,
        15,
        0.5,
        (
            "API key rotation request",
            "Rotate API key for {org}",
            "Need a new API key, old one leaked",
            "How do I rotate our API key?",
        ),
        ("api-gateway", "config-service"),
    ),
    Category(
        "access",
        "permission request",
        4,
        12,
        0.5,
        (
            "Grant admin role to {user}",
            "Permission request for reporting",
            "Need access to billing page",
            "Add user to workspace as admin",
        ),
        ("admin-portal", "user-profile"),
    ),
    Category(
        "billing",
        "refund request",
        8,
        12,
        0.5,
        (
            "Refund request for order #{order}",
            "Request a refund",
            "Charged twice, please refund",
            "Refund for cancelled subscription",
            "Refund not received for order #{order}",
        ),
        ("billing", "payments-api"),
    ),
    Category(
        "billing",
        "invoice copy",
        4,
        5,
        0.4,
        (
            "Need a copy of invoice {invoice}",
            "Invoice copy for {month}",
            "Resend invoice",
            "Download invoice PDF not working",
        ),
        ("invoice-renderer", "billing"),
    ),
    Category(
        "billing",
        "payment failed",
        5,
        15,
        0.55,
        (
            "Payment failed at checkout",
            "Card declined but bank says ok",
            "Payment failed for order #{order}",
            "Cannot pay, payment error",
        ),
        ("payments-api", "checkout"),
        (0.02, 0.18, 0.6, 0.2),
    ),
    Category(
        "billing",
        "plan change",
        3,
        10,
        0.45,
        (
            "Change plan to annual",
            "Downgrade subscription",
            "Upgrade to business plan",
            "How do I change my plan?",
        ),
        ("billing",),
    ),
    Category(
        "billing",
        "vat number update",
        2,
        8,
        0.4,
        (
            "Update VAT number on invoices",
            "Add tax ID to account",
            "Wrong VAT on invoice {invoice}",
        ),
        ("tax", "billing"),
    ),
    Category(
        "how-to",
        "data export question",
        5,
        9,
        0.5,
        (
            "How do I export my data?",
            "Export orders to CSV",
            "Where is the export button?",
            "Bulk export of customer list",
        ),
        ("reporting",),
    ),
    Category(
        "how-to",
        "api usage question",
        4,
        18,
        0.6,
        (
            "API pagination question",
            "How to filter orders via API",
            "Which API endpoint returns invoices?",
            "API rate limits explained?",
        ),
        ("api-gateway",),
    ),
    Category(
        "how-to",
        "webhook setup",
        2,
        20,
        0.55,
        ("How to set up webhooks", "Webhook signature verification", "Configure webhook endpoint"),
        ("webhooks",),
    ),
    Category(
        "how-to",
        "invite users",
        3,
        7,
        0.4,
        (
            "How do I invite a colleague?",
            "Invite users to workspace",
            "Invitation email not received",
        ),
        ("user-profile", "notifications"),
    ),
    Category(
        "bugs",
        "export failing",
        5,
        35,
        0.6,
        (
            "Export failing with timeout",
            "CSV export is empty",
            "Export failing for large accounts",
            "Export stuck at 99%",
            "Report export failing since yesterday",
        ),
        ("reporting", "data-warehouse"),
        (0.02, 0.23, 0.55, 0.2),
    ),
    Category(
        "bugs",
        "page not loading",
        3,
        30,
        0.6,
        ("Product page not loading", "Blank page after login", "Page not loading on {browser}"),
        ("catalog", "checkout", "admin-portal"),
        (0.03, 0.27, 0.5, 0.2),
    ),
    Category(
        "bugs",
        "search results wrong",
        2,
        40,
        0.6,
        (
            "Search returns wrong results",
            "Search results missing new products",
            "Search not finding exact match",
        ),
        ("search",),
        (0.01, 0.19, 0.6, 0.2),
    ),
    Category(
        "bugs",
        "notifications not received",
        3,
        25,
        0.55,
        (
            "Notifications not received",
            "No email notifications since {month}",
            "Push notifications stopped",
        ),
        ("notifications", "email-sender", "push-gateway"),
    ),
    Category(
        "bugs",
        "mobile app crash",
        2,
        45,
        0.6,
        (
            "Mobile app crashes on start",
            "App crashes when opening cart",
            "iOS app crash after update",
        ),
        ("api-gateway", "cart"),
        (0.02, 0.28, 0.5, 0.2),
    ),
    Category(
        "bugs",
        "webhook delivery failing",
        2,
        30,
        0.6,
        (
            "Webhook delivery failing",
            "Webhooks not delivered, 410 errors",
            "Webhook retries exhausted",
        ),
        ("webhooks",),
        (0.02, 0.23, 0.55, 0.2),
    ),
    Category(
        "incidents",
        "outage report",
        2,
        20,
        0.5,
        (
            "Site down?",
            "Getting 500 errors",
            "Service unavailable",
            "Everything is very slow today",
        ),
        ("api-gateway", "checkout"),
        (0.3, 0.5, 0.2, 0.0),
    ),
)
SURGE_TITLES = (
    "{service} returning errors",
    "Cannot use {service}",
    "Getting 500 errors on {service}",
    "{service} very slow",
    "Is {service} down?",
)
