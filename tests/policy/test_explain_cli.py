"""`cpni-gateway policy explain`: a real customer's facts, the field's category from the schema."""

from __future__ import annotations

import json

import asyncpg

from tests.factories import make_campaign, make_customer

from .conftest import Cli


async def test_per_service_field_explained_per_service(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS", "LOCAL"), notice_days_ago=40)
    campaign = await make_campaign(
        pool, division="marketing", purpose="marketing_cross_category", categories=["SERVICE", "USAGE"]
    )
    wireless, local = made.service_ids["WIRELESS"], made.service_ids["LOCAL"]
    result = await cli(
        "policy", "explain", "--division", "marketing", "--purpose", "marketing_cross_category",
        "--customer", str(made.id), "--field", "Service.usage", "--campaign", campaign,
    )
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines() == [
        "field: Service.usage (USAGE, decided per service)",
        f"customer: {made.id}",
        "division: marketing (CARRIER)",
        "purpose: marketing_cross_category",
        f"campaign: {campaign} (categories SERVICE, USAGE)",
        "regime: opt_out",
        f"service {wireless} (WIRELESS): allowed by marketing-opt-out-approval",
        "  marketing-opt-out-approval @cite 47 CFR 64.2007(b)(1)-(2), 64.2008(d)",
        f"service {local} (LOCAL): allowed by marketing-opt-out-approval",
        "  marketing-opt-out-approval @cite 47 CFR 64.2007(b)(1)-(2), 64.2008(d)",
        "decision: allowed for every service of the customer (2)",
        "  marketing-opt-out-approval @cite 47 CFR 64.2007(b)(1)-(2), 64.2008(d)",
        "facts: subscribed=[LOCAL,WIRELESS] terminated=false business=false cpniApproval=NONE"
        " noticeInWindow=true locationApproved=false listingPublished=true",
        "decided on: terminated, cpniApproval, noticeInWindow",
    ]
    # One service only.
    one = await cli(
        "policy", "explain", "--division", "marketing", "--purpose", "marketing_cross_category",
        "--customer", str(made.id), "--field", "Service.usage", "--campaign", campaign, "--service", str(local),
    )
    assert one.exit_code == 0, one.stdout
    assert f"service {local} (LOCAL): allowed by marketing-opt-out-approval" in one.stdout.splitlines()
    assert not any(line.startswith((f"service {wireless}", "decision:")) for line in one.stdout.splitlines())
    # The same customer under the attorneys general's regime: denied, still exit 0.
    opt_in = await cli(
        "policy", "explain", "--division", "marketing", "--purpose", "marketing_cross_category",
        "--customer", str(made.id), "--field", "Service.usage", "--regime", "opt_in", "--campaign", campaign,
    )
    assert opt_in.exit_code == 0, opt_in.stdout
    assert f"service {local} (LOCAL): denied: no policy permits it (Cedar's default deny)" in opt_in.stdout
    assert f"decision: denied for 2 of 2 services: {wireless} (WIRELESS), {local} (LOCAL)" in opt_in.stdout
    assert "regime: opt_in" in opt_in.stdout


async def test_a_campaign_that_does_not_name_the_category_denies_it(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",), approval="OPT_IN")
    campaign = await make_campaign(pool, division="marketing", purpose="marketing_cross_category", categories=["CONTACT"])
    result = await cli(
        "policy", "explain", "--division", "marketing", "--purpose", "marketing_cross_category",
        "--customer", str(made.id), "--field", "Service.plan", "--campaign", campaign,
    )
    assert result.exit_code == 0, result.stdout
    service = made.service_ids["LOCAL"]
    assert f"service {service} (LOCAL): denied by campaign-scope" in result.stdout.splitlines()
    assert f"decision: denied for 1 of 1 services: {service} (LOCAL)" in result.stdout.splitlines()


async def test_a_marketing_purpose_without_a_usable_campaign_is_refused(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL",), approval="OPT_IN")
    pending = await make_campaign(
        pool, division="marketing", purpose="marketing_cross_category", categories=["CONTACT"], status="PENDING"
    )
    for extra in ([], ["--campaign", pending], ["--campaign", "no-such-campaign"]):
        result = await cli(
            "policy", "explain", "--division", "marketing", "--purpose", "marketing_cross_category",
            "--customer", str(made.id), "--field", "Customer.email", *extra,
        )
        assert result.exit_code == 0, result.stdout
        lines = result.stdout.splitlines()
        assert any(line.startswith("decision: refused: a marketing purpose reads only under") for line in lines)


async def test_location_of_a_usage_record_for_a_provisioning_division(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    local, wireless = made.service_ids["LOCAL"], made.service_ids["WIRELESS"]
    result = await cli(
        "policy", "explain", "--division", "wireless", "--purpose", "provisioning",
        "--customer", str(made.id), "--field", "UsageRecord.cellSite",
    )
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "field: UsageRecord.cellSite (LOCATION, decided per service)"
    assert lines[2] == "division: wireless (AFFILIATE_COMM, own category WIRELESS)"
    # Denied at the first step: the LOCAL service is not even listed for the wireless division.
    assert f"service {local} (LOCAL): denied by provisioning-own-services-only (at SERVICE, on the way to this field)" in lines
    assert "  provisioning-own-services-only @cite 47 U.S.C. 222(c)(1)(A); 47 CFR 64.2005(a)(2); SPEC 6.2" in lines
    assert f"service {wireless} (WIRELESS): allowed by provisioning-reads-service-data" in lines
    assert f"decision: denied for 1 of 2 services: {local} (LOCAL)" in lines
    assert not any(line.startswith("campaign:") for line in lines)  # not a marketing purpose


async def test_customer_level_field_and_json(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, location_approval="OPT_IN", status="TERMINATED")
    result = await cli(
        "policy", "explain", "--division", "customer_care", "--purpose", "customer_care",
        "--customer", str(made.id), "--field", "Customer.email", "--format", "json",
    )
    assert result.exit_code == 0, result.stdout
    document = json.loads(result.stdout)
    assert document["field"] == "Customer.email" and document["category"] == "CONTACT"
    assert document["perService"] is False
    assert document["campaign"] is None
    assert {k: document[k] for k in ("allowed", "serviceId", "policyIds", "cites", "summary", "services")} == {
        "allowed": True,
        "serviceId": None,
        "policyIds": ["care-reads-customer-data"],
        "cites": ["47 U.S.C. 222(d)(3)"],
        "summary": "allowed by care-reads-customer-data",
        "services": [],
    }
    assert document["facts"] == {
        "subscribed": ["LOCAL"],
        "terminated": True,
        "business": False,
        "cpniApproval": "NONE",
        "noticeInWindow": False,
        "locationApproved": True,
        "listingPublished": True,
    }
    assert document["decidedOn"] == []


async def test_a_denial_names_the_forbid(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS",), status="TERMINATED", approval="OPT_IN")
    campaign = await make_campaign(pool, division="wireless", purpose="marketing_same_category", categories=["CONTACT"])
    result = await cli(
        "policy", "explain", "--division", "wireless", "--purpose", "marketing_same_category",
        "--customer", str(made.id), "--field", "Customer.billingAddress", "--campaign", campaign,
    )
    assert result.exit_code == 0, result.stdout
    assert "decision: denied by terminated-no-marketing" in result.stdout.splitlines()
    assert "  terminated-no-marketing @cite 47 CFR 64.2005(a); SPEC 6.2 (terminated customers)" in result.stdout


async def test_per_service_field_of_a_customer_without_services(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=())
    result = await cli(
        "policy", "explain", "--division", "fraud_security", "--purpose", "fraud_protection",
        "--customer", str(made.id), "--field", "ServiceConfiguration.ipAddress",
    )
    assert result.exit_code == 0, result.stdout
    assert (
        "decision: allowed by fraud-reads-all; the customer has no service, so no data of this field"
        in result.stdout.splitlines()
    )


async def test_without_a_customer_every_policy_that_can_decide_the_fields_category(cli: Cli) -> None:
    result = await cli("policy", "explain", "--field", "Customer.lastKnownLocation")
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "field: Customer.lastKnownLocation (LOCATION)"
    headers = [line for line in lines if line.startswith(("permit ", "forbid "))]
    assert lines[1] == f"policies that can decide LOCATION: {len(headers)}"
    assert headers == [
        "forbid campaign-scope @cite 47 CFR 64.2009(c), 64.2009(d)",
        "forbid provisioning-own-services-only @cite 47 U.S.C. 222(c)(1)(A); 47 CFR 64.2005(a)(2); SPEC 6.2",
        "forbid terminated-no-marketing @cite 47 CFR 64.2005(a); SPEC 6.2 (terminated customers)",
        "permit emergency-reads-contact-and-location @cite 47 U.S.C. 222(d)(4), 222(f)",
        "permit fraud-reads-all @cite 47 U.S.C. 222(d)(2); 47 CFR 64.2005(d)",
        "permit location-express-approval @cite 47 U.S.C. 222(f)(1)",
        "permit provisioning-reads-service-data @cite 47 U.S.C. 222(c)(1)(A)-(B); 47 CFR 64.2005(c)",
    ]
    emergency = lines.index("permit emergency-reads-contact-and-location @cite 47 U.S.C. 222(d)(4), 222(f)")
    assert lines[emergency + 2] == "  decides: network_ops emergency A, fraud_security emergency A"
    # Narrowed to one division and purpose, as JSON.
    narrowed = await cli(
        "policy", "explain", "--field", "Customer.name", "--division", "dex_directory",
        "--purpose", "directory_publishing", "--format", "json",
    )
    assert narrowed.exit_code == 0, narrowed.stdout
    document = json.loads(narrowed.stdout)
    assert [p["id"] for p in document["policies"]] == ["directory-reads-subscriber-list"]
    assert document["policies"][0]["cells"] == [
        {"division": "dex_directory", "purpose": "directory_publishing", "letter": "A", "publishedOnly": True}
    ]


async def test_unknown_customer_exits_1(cli: Cli) -> None:
    result = await cli(
        "policy", "explain", "--division", "customer_care", "--purpose", "customer_care",
        "--customer", "987654321", "--field", "Customer.email",
    )
    assert result.exit_code == 1
    assert result.stdout == "customer 987654321 not found\n"


async def test_usage_errors_exit_2(cli: Cli) -> None:
    base = ["policy", "explain", "--division", "customer_care", "--purpose", "customer_care", "--customer", "1"]
    cases = {
        "--division": (["--division", "customer_carer", "--purpose", "customer_care", "--customer", "1",
                        "--field", "Customer.email"], "unknown division `customer_carer`"),
        "--purpose": (["--division", "customer_care", "--purpose", "gossip", "--customer", "1",
                       "--field", "Customer.email"], "'gossip' is not one of"),
        "--field type": ([*base[2:], "--field", "Customr.email"], "the schema has no object type `Customr`"),
        "--field name": ([*base[2:], "--field", "Customer.emial"], "type `Customer` has no field `emial`"),
        "--field form": ([*base[2:], "--field", "email"], "name a field as Type.field"),
        "--field inherited": ([*base[2:], "--field", "Address.city"],
                              "ask about that field: Customer.billingAddress (CONTACT), Customer.serviceAddress"),
        "--customer": ([*base[2:6], "--customer", "abc", "--field", "Customer.email"], "'abc' is not a valid integer"),
        "--service": ([*base[2:], "--field", "Customer.email", "--service", "1"], "is not decided per service"),
    }
    for name, (args, message) in cases.items():
        result = await cli("policy", "explain", *args)
        assert result.exit_code == 2, (name, result.output)
        assert message in " ".join(result.stderr.split()), (name, result.output)  # usage errors go to stderr
        assert "Traceback" not in result.output
