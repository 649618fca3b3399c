"""`cpni-gateway policy explain`: a real customer's facts, the field's category from the schema."""

from __future__ import annotations

import json

import asyncpg

from tests.factories import make_customer

from .conftest import Cli


async def test_per_service_field_explained_per_service(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS", "LOCAL"), notice_days_ago=40)
    result = await cli(
        "policy", "explain", "--division", "marketing", "--purpose", "marketing_cross_category",
        "--customer", str(made.id), "--field", "Service.usage",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "field: Service.usage (USAGE, decided per service)",
        f"customer: {made.id}",
        "division: marketing (CARRIER)",
        "purpose: marketing_cross_category",
        "regime: opt_out",
        "LOCAL service: allowed by marketing-opt-out-approval",
        "  marketing-opt-out-approval @cite 47 CFR 64.2007(b)(1)-(2), 64.2008(d)",
        "WIRELESS service: allowed by marketing-opt-out-approval",
        "  marketing-opt-out-approval @cite 47 CFR 64.2007(b)(1)-(2), 64.2008(d)",
        "facts: subscribed=[LOCAL,WIRELESS] terminated=false business=false cpniApproval=NONE"
        " noticeInWindow=true locationApproved=false",
        "decided on: terminated, cpniApproval, noticeInWindow",
        "note: outside any campaign; an approved campaign can only narrow this (campaign-scope)",
    ]
    # The same customer under the attorneys general's regime: denied, still exit 0.
    opt_in = await cli(
        "policy", "explain", "--division", "marketing", "--purpose", "marketing_cross_category",
        "--customer", str(made.id), "--field", "Service.usage", "--regime", "opt_in",
    )
    assert opt_in.exit_code == 0, opt_in.output
    assert "LOCAL service: denied: no policy permits it (Cedar's default deny)" in opt_in.output
    assert "regime: opt_in" in opt_in.output


async def test_location_of_a_usage_record_for_a_provisioning_division(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("LOCAL", "WIRELESS"))
    result = await cli(
        "policy", "explain", "--division", "wireless", "--purpose", "provisioning",
        "--customer", str(made.id), "--field", "UsageRecord.cellSite",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "field: UsageRecord.cellSite (LOCATION, decided per service)"
    assert lines[2] == "division: wireless (AFFILIATE_COMM, own category WIRELESS)"
    assert "LOCAL service: denied by provisioning-own-services-only" in lines
    assert "  provisioning-own-services-only @cite 47 U.S.C. 222(c)(1)(A); 47 CFR 64.2005(a)(2); SPEC 6.2" in lines
    assert "WIRELESS service: allowed by provisioning-reads-service-data" in lines
    assert not any(line.startswith("note:") for line in lines)  # not a marketing purpose


async def test_customer_level_field_and_json(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, location_approval="OPT_IN", status="TERMINATED")
    result = await cli(
        "policy", "explain", "--division", "customer_care", "--purpose", "customer_care",
        "--customer", str(made.id), "--field", "Customer.email", "--format", "json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["field"] == "Customer.email" and document["category"] == "CONTACT"
    assert document["perService"] is False
    assert document["decisions"] == [
        {
            "serviceCategory": None,
            "allowed": True,
            "policyIds": ["care-reads-customer-data"],
            "cites": ["47 U.S.C. 222(d)(3)"],
            "summary": "allowed by care-reads-customer-data",
        }
    ]
    assert document["facts"] == {
        "subscribed": ["LOCAL"],
        "terminated": True,
        "business": False,
        "cpniApproval": "NONE",
        "noticeInWindow": False,
        "locationApproved": True,
    }
    assert document["decidedOn"] == []


async def test_a_denial_names_the_forbid(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=("WIRELESS",), status="TERMINATED", approval="OPT_IN")
    result = await cli(
        "policy", "explain", "--division", "wireless", "--purpose", "marketing_same_category",
        "--customer", str(made.id), "--field", "Customer.billingAddress",
    )
    assert result.exit_code == 0, result.output
    assert "decision: denied by terminated-no-marketing" in result.output.splitlines()
    assert "  terminated-no-marketing @cite 47 CFR 64.2005(a); SPEC 6.2 (terminated customers)" in result.output


async def test_per_service_field_of_a_customer_without_services(cli: Cli, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool, services=())
    result = await cli(
        "policy", "explain", "--division", "fraud_security", "--purpose", "fraud_protection",
        "--customer", str(made.id), "--field", "ServiceConfiguration.ipAddress",
    )
    assert result.exit_code == 0, result.output
    assert "decision: none: the customer has no service, so no data of this field" in result.output


async def test_unknown_customer_exits_1(cli: Cli) -> None:
    result = await cli(
        "policy", "explain", "--division", "customer_care", "--purpose", "customer_care",
        "--customer", "987654321", "--field", "Customer.email",
    )
    assert result.exit_code == 1
    assert result.output == "customer 987654321 not found\n"


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
    }
    for name, (args, message) in cases.items():
        result = await cli("policy", "explain", *args)
        assert result.exit_code == 2, (name, result.output)
        assert message in " ".join(result.output.split()), (name, result.output)
        assert "Traceback" not in result.output
