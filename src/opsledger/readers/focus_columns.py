"""The FOCUS columns by version, and the specification's features opsledger does not analyse.

ListCost and ContractedCost (the feature "Cost Comparison") are read onto each ledger line,
so they are not among the features named as not analysed.

Column ids are the specification's (FOCUS_Spec ``specification/columns/``, tags v1.0, v1.1
and v1.2); feature names are those of its ``supported_features`` list (v1.2).
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "1.0": (
        "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
        "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory",
        "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
        "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
        "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
        "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice",
        "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
        "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId",
        "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory",
        "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    ),
    "1.1": (
        "CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails",
    ),
    "1.2": (
        "BillingAccountType", "InvoiceId", "PricingCurrency",
        "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice", "SubAccountType",
    ),
}
FOCUS_COLUMNS: tuple[str, ...] = tuple(c for columns in VERSION_COLUMNS.values() for c in columns)
# FOCUS 1.0-preview columns that 1.0 renamed or replaced (ChargeSubcategory by ChargeClass).
PREVIEW_COLUMNS = ("ChargeSubcategory", "UsageQuantity", "UsageUnit", "Region")


@dataclass(frozen=True)
class Feature:
    """A FOCUS feature opsledger does not analyse, the columns that carry it, and what
    opsledger does with them instead."""

    name: str
    columns: tuple[str, ...]
    treatment: str


FEATURES = (
    Feature("Account Structures",
            ("BillingAccountId", "BillingAccountName", "BillingAccountType", "SubAccountId",
             "SubAccountType"),
            "spend is not split by account; SubAccountName is kept on each line"),
    Feature("Billed Cost and Invoice Alignment by InvoiceId", ("InvoiceId",),
            "invoices are totalled by billing period"),
    Feature("Commit Usage and Under Usage",
            ("CommitmentDiscountId", "CommitmentDiscountStatus", "CommitmentDiscountType",
             "CommitmentDiscountCategory", "CommitmentDiscountName",
             "CommitmentDiscountQuantity", "CommitmentDiscountUnit", "CapacityReservationId",
             "CapacityReservationStatus"),
            "commitment use is not reported; unused commitments count as spend with no "
            "service (warned with their amount)"),
    Feature("Location", ("RegionId", "RegionName", "AvailabilityZone"),
            "spend is not split by region"),
    Feature("Marketplace Purchases", ("InvoiceIssuerName", "PublisherName", "ProviderName"),
            "spend is not split by provider, publisher or invoice issuer"),
    Feature("Resource Usage", ("ConsumedQuantity", "ConsumedUnit"), "quantities are not read"),
    Feature("Service Categorization", ("ServiceCategory", "ServiceSubcategory"),
            "spend is not split by category; cost_mapping can name services from any column"),
    Feature("Unit Prices",
            ("ListUnitPrice", "ContractedUnitPrice", "PricingCategory", "PricingQuantity",
             "PricingUnit", "SkuId", "SkuPriceId", "SkuMeter", "SkuPriceDetails"),
            "prices and SKUs are not read"),
    Feature("Pricing Currency",
            ("PricingCurrency", "PricingCurrencyContractedUnitPrice",
             "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice"),
            "amounts are read in BillingCurrency only (rows priced otherwise are warned about)"),
)
