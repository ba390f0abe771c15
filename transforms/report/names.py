"""The indicator names the report, its charts and the workbook read, each checked against the
catalogue when this module is imported (:func:`transforms.catalogue.require`).

Code under ``transforms/report`` names an indicator only through these constants, so a name
nothing publishes fails at import, not as a silently empty section.
"""

from __future__ import annotations

from transforms.catalogue import FISCAL, MATCHING, TARGETING, require

HEADLINE = require(TARGETING, "exclusion_error", "inclusion_error", "coverage", "poverty_rate")
"""The targeting rates the headline sentence states (columns of targeting_errors)."""
EXCLUSION_ERROR, INCLUSION_ERROR, COVERAGE, POVERTY_RATE = HEADLINE
CGH = require(TARGETING, "cgh")[0]

QUINTILE_SERIES = require(MATCHING, "coverage", "benefit_incidence")
"""Matching indicators drawn and tabulated by quintile."""
STANDARDS = require(MATCHING, "benefit_standard", "needs_based_standard", "standard_gap")
"""Matching indicators of each region's guaranteed minimum against its needs."""
BENEFIT_STANDARD, NEEDS_BASED_STANDARD, STANDARD_GAP = STANDARDS
TIER_SHARE = require(MATCHING, "tier_share")[0]
"""Shares of the need tier × benefit band cells (group_type tier)."""

PROJECTION = require(FISCAL, "projected_cost", "cost_share_gdp")
"""Fiscal indicators drawn by scenario and year."""
PROJECTED_COST, COST_SHARE_GDP = PROJECTION
THRESHOLD, CROSSED_YEAR = require(FISCAL, "sustainability_threshold", "threshold_crossed_year")
"""Per scenario (null year): the threshold of cost_share_gdp, and the first year above it."""
