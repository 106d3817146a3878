"""The dashboard's figures over 1,000,000 agreements in one tenant on PostgreSQL, beside a
plain ``count(*)`` over the same table in the same run (not a test).

The rows are made by SQL (generate_series) straight into a fresh tenant database: a client
per agreement, one goal and one step per agreement, a review for 30 % of them, a referral
with its history for 20 % (with the consent it needs); statuses, fields, outcomes, answers
and dates spread over three years; the running counts are then rebuilt from them (rows made
by SQL bypass the operations that keep them). Then: ``count(*)`` over agreements, every figure table
(``compute_figures``, as the portal page and the API compute them) for all time, for the last
twelve months and for one office, and ``GET /api/v1/figures`` through the gateway. Each
measured ``--repeat`` times; the median is printed. Target: the whole dashboard within 1 s.

    .venv/bin/python bench/figures_bench.py                  # 1,000,000 agreements
    .venv/bin/python bench/figures_bench.py --agreements 100000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATABASE_URL = os.environ.get(
    "INTEGRA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

GENERATE = [
    # clients: one per agreement, spread over the tenant's offices and three years
    """INSERT INTO clients (id, office_id, given_name, family_name, birth_date,
        country_of_origin, languages, arrival_date, course_obligation, created_by,
        created_at, updated_at)
    SELECT md5('c' || i)::uuid, (:offices)[1 + i % cardinality(:offices)], 'Vorname', 'Name',
        date '1980-01-01' + (i % 9000), 'SY', '["ar"]'::jsonb, date '2023-01-01' + (i % 1000),
        false, 'user:bench', :now - make_interval(days => i % 1095), :now
    FROM generate_series(1, :n) AS i""",
    # agreements: 10 % draft, 5 % signed, 45 % active, 40 % closed
    """INSERT INTO agreements (id, client_id, version, status, created_by, created_at,
        updated_at, client_signed_on, counsellor_signed_on, activated_at, closed_at, outcome,
        balance, helped, easier_to_keep_going, next_review_due)
    SELECT md5('a' || i)::uuid, md5('c' || i)::uuid, 1, s.status,
        'user:counsellor' || (i % 40), s.created, s.created, s.signed::date, s.signed::date,
        s.signed, s.closed,
        CASE WHEN s.closed IS NOT NULL THEN (ARRAY['goals_reached','handed_over','broke_off',
            'moved_away','time_limit'])[1 + i % 5] END,
        CASE WHEN s.closed IS NOT NULL THEN '' END,
        CASE WHEN s.closed IS NOT NULL AND i % 7 <> 0
             THEN (ARRAY['yes','partly','no'])[1 + i % 3] END,
        CASE WHEN s.closed IS NOT NULL AND i % 5 <> 0
             THEN (ARRAY['yes','partly','no'])[1 + (i / 3) % 3] END,
        CASE WHEN s.status = 'active' THEN (s.signed + interval '6 months')::date END
    FROM generate_series(1, :n) AS i,
    LATERAL (SELECT
        CASE WHEN i % 20 < 2 THEN 'draft' WHEN i % 20 = 2 THEN 'signed'
             WHEN i % 20 < 12 THEN 'active' ELSE 'closed' END AS status,
        :now - make_interval(days => i % 1095) + interval '1 day' AS created) AS b,
    LATERAL (SELECT b.status, b.created,
        CASE WHEN b.status IN ('active','closed')
             THEN b.created + make_interval(days => i % 30, hours => i % 24) END AS signed,
        CASE WHEN b.status = 'closed'
             THEN b.created + make_interval(days => 30 + i % 300) END AS closed) AS s""",
    """INSERT INTO goals (id, agreement_id, position, field, target, due_date, attainment)
    SELECT md5('g' || i)::uuid, md5('a' || i)::uuid, 0,
        (ARRAY['language','education','work','childcare','recognition','other'])[1 + i % 6],
        'Ziel', date '2027-01-01',
        CASE WHEN i % 20 >= 12 AND i % 4 <> 0
             THEN (ARRAY['reached','partly','not_reached'])[1 + i % 3] END
    FROM generate_series(1, :n) AS i""",
    """INSERT INTO steps (id, goal_id, position, description, owner_side, due_date, status)
    SELECT md5('s' || i)::uuid, md5('g' || i)::uuid, 0, 'Schritt',
        CASE WHEN i % 2 = 0 THEN 'client' ELSE 'institution' END, date '2026-12-01',
        (ARRAY['open','done','partly','not_done'])[1 + i % 4]
    FROM generate_series(1, :n) AS i""",
    """INSERT INTO reviews (id, agreement_id, created_at, obstacles, created_by)
    SELECT md5('r' || i)::uuid, md5('a' || i)::uuid, a.created_at + interval '90 days', '',
        'user:bench'
    FROM generate_series(1, :n) AS i JOIN agreements a ON a.id = md5('a' || i)::uuid
    WHERE i % 10 < 3 AND a.status IN ('active', 'closed')""",
    """INSERT INTO review_step_results (id, review_id, step_id, result, note)
    SELECT md5('x' || i)::uuid, md5('r' || i)::uuid, md5('s' || i)::uuid,
        (ARRAY['done','partly','not_done'])[1 + i % 3], ''
    FROM generate_series(1, :n) AS i JOIN reviews r ON r.id = md5('r' || i)::uuid""",
    """INSERT INTO consents (id, client_id, recipient_kind, purposes, data_categories,
        signed_at, created_by, created_at, updated_at)
    SELECT md5('k' || i)::uuid, md5('c' || i)::uuid,
        (ARRAY['jobcenter','arbeitsagentur','auslaenderbehoerde'])[1 + i % 3],
        '["work"]'::jsonb, '["identity"]'::jsonb, :now - interval '4 years', 'user:bench',
        :now, :now
    FROM generate_series(1, :n) AS i WHERE i % 5 = 0""",
    """INSERT INTO referrals (id, client_id, step_id, consent_id, recipient_kind, purpose,
        note, status, created_by, created_at, updated_at)
    SELECT md5('f' || i)::uuid, md5('c' || i)::uuid, md5('s' || i)::uuid,
        md5('k' || i)::uuid, (ARRAY['jobcenter','arbeitsagentur','auslaenderbehoerde'])[1 + i % 3],
        'work', '', (ARRAY['requested','sent','received','accepted','rejected','started',
            'completed'])[1 + (i / 5) % 7], 'user:bench',
        :now - make_interval(days => i % 1095), :now
    FROM generate_series(1, :n) AS i WHERE i % 5 = 0""",
    # history: each referral has every status up to its current one, hours apart
    """INSERT INTO referral_events (id, referral_id, sequence, status, at, reason_code, note)
    SELECT md5('e' || i || '-' || k)::uuid, md5('f' || i)::uuid, k, st[k + 1],
        :now - make_interval(days => i % 1095) + make_interval(hours => k * (1 + i % 70)),
        CASE WHEN st[k + 1] = 'rejected'
             THEN (ARRAY['not_responsible','no_capacity','incomplete'])[1 + i % 3] END, ''
    FROM generate_series(1, :n) AS i,
    LATERAL (SELECT CASE (i / 5) % 7
        WHEN 0 THEN ARRAY['requested']
        WHEN 1 THEN ARRAY['requested','sent']
        WHEN 2 THEN ARRAY['requested','sent','received']
        WHEN 3 THEN ARRAY['requested','sent','received','accepted']
        WHEN 4 THEN ARRAY['requested','sent','received','rejected']
        WHEN 5 THEN ARRAY['requested','sent','received','accepted','scheduled','started']
        ELSE ARRAY['requested','sent','received','accepted','scheduled','started','completed']
        END AS st) AS h,
    generate_series(0, cardinality(h.st) - 1) AS k
    WHERE i % 5 = 0""",
]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--reuse", metavar="PREFIX", help="A database kept by --keep.")
    args = parser.parse_args()

    from sqlalchemy import text
    from sqlalchemy.orm import Session
    from werkzeug.test import Client as WerkzeugClient

    from deploy.provisioning import deprovision_tenant, provision_tenant
    from deploy.wiring import tenant_dispatcher
    from services.agreements.figures import (
        FigureFilter,
        caseload,
        compute_figures,
        referral_tables,
    )
    from services.agreements.figures.queries import FigureQueries
    from services.agreements.figures.rebuild import rebuild
    from services.agreements.models.vocabulary import Role
    from services.agreements.operations.api_clients import create_api_client
    from tenants.databases import create_tenant_engine
    from tenants.registry import load_registry
    from tenants.settings import load_settings
    from tests.fixtures.platform import Api, obtain_token

    settings = load_settings({
        "INTEGRA_HOME": tempfile.mkdtemp(prefix="figures-bench-"),
        "INTEGRA_DATABASE_URL": DATABASE_URL,
        "INTEGRA_DATABASE_PREFIX": args.reuse or f"fbench_{uuid.uuid4().hex[:6]}",
    })  # fmt: skip
    registry = load_registry(settings.tenants_dir)
    tenant = registry.require("freiburg")
    provision_tenant(settings, tenant)
    engine = create_tenant_engine(settings, tenant, pool_size=2)
    try:
        now = datetime.now(UTC)
        start = time.perf_counter()
        with engine.begin() as conn:
            if args.reuse:
                GENERATE.clear()  # the rows are there already
            offices = [r[0] for r in conn.execute(text("SELECT id FROM offices ORDER BY key"))]
            params = {"n": args.agreements, "now": now, "offices": offices}
            for statement in GENERATE:
                used = {k: v for k, v in params.items() if f":{k}" in statement}
                conn.execute(text(statement), used)
        print(f"generated {args.agreements:,} agreements in {time.perf_counter() - start:.0f} s")
        if not args.reuse:
            # rows made by SQL bypass the operations that keep the running counts
            start = time.perf_counter()
            with engine.begin() as conn:
                rebuild(conn)
            print(f"running counts rebuilt from the cases in {time.perf_counter() - start:.0f} s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        with engine.connect() as conn:
            for table in ("clients", "agreements", "goals", "steps", "reviews", "referrals",
                          "referral_events", "figure_counts"):  # fmt: skip
                n = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                print(f"  {table:16} {n:>10,}")

        def count_all() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM agreements")).scalar_one()

        today = now.date()
        everything = FigureFilter(today=today)
        last_year = FigureFilter(today=today, period_from=today - timedelta(days=365),
                                 period_to=today)  # fmt: skip
        with Session(engine) as session:
            office_id = session.execute(text("SELECT id FROM offices ORDER BY key")).first()[0]
        one_office = FigureFilter(today=today, office_id=office_id)

        def dashboard(figure_filter: FigureFilter) -> Callable[[], None]:
            def run() -> None:
                with Session(engine) as session:
                    compute_figures(session, "freiburg", figure_filter)

            return run

        baseline, _ = timed(count_all, args.repeat)
        print(f"\nbaseline  count(*) over agreements           median {baseline * 1000:7.0f} ms")
        results = {}
        for name, figure_filter in (("all time", everything), ("last 12 months", last_year),
                                    ("one office, all time", one_office)):  # fmt: skip
            median, times = timed(dashboard(figure_filter), args.repeat)
            results[name] = median
            print(f"dashboard {name:34} median {median * 1000:7.0f} ms  "
                  f"({median / baseline:.1f} × count(*); runs "
                  f"{', '.join(f'{t * 1000:.0f}' for t in times)} ms)")  # fmt: skip

        print("\nper table (all time), one run each:")
        with Session(engine) as session:
            queries = FigureQueries(session, everything)
            tables: dict[str, Callable[[], Any]] = {
                name: getattr(queries, name)
                for name in ("agreements_by_status", "goals_by_field", "steps_by_side",
                             "reviews", "closing_outcomes", "closing_answers")
            }  # fmt: skip
            tables["caseload"] = partial(caseload.caseload, queries)
            for name in ("referral_funnel", "rejection_reasons", "durations"):
                tables[name] = partial(getattr(referral_tables, name), queries)
            for name, table in tables.items():
                t0 = time.perf_counter()
                table()
                print(f"  {name:22} {(time.perf_counter() - t0) * 1000:7.0f} ms")

        with Session(engine) as session, session.begin():
            issued = create_api_client(session, "bench", Role.TENANT_ADMIN, None)
        dispatcher = tenant_dispatcher(settings, registry)
        http = WerkzeugClient(dispatcher)
        api = Api(http, "freiburg", obtain_token(http, "freiburg", issued.client_id,
                                                 issued.client_secret))  # fmt: skip

        def over_http() -> None:
            response = api.get("figures")
            assert response.status_code == 200, response.get_data(as_text=True)

        median, times = timed(over_http, args.repeat)
        print(f"\nGET /api/v1/figures (all time, JSON)          median {median * 1000:7.0f} ms"
              f"  ({median / baseline:.1f} × count(*))")  # fmt: skip
        dispatcher.dispose()
        verdict = "met" if results["all time"] <= 1.0 and median <= 1.0 else "NOT met"
        print(f"target: whole dashboard ≤ 1 s: {verdict}")
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept: --reuse {settings.database_prefix}")
        else:
            deprovision_tenant(settings, tenant)


if __name__ == "__main__":
    main()
