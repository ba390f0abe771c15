# Reference values for tests/test_survey.py, computed with R's `survey` package.
#
# Run from the repository root (needs R with the survey package, e.g. the Debian
# package r-cran-survey; the project itself never needs R):
#   Rscript tests/data/r_survey_reference.R ../shared/reference-data/r-survey-api \
#     > tests/data/r_survey_reference.csv
#
# Every case uses the api CSVs shipped in ../shared/reference-data/r-survey-api
# (the same data as data(api) in the survey package); the saved output was made with
# R 4.2.2 and survey 4.1.1 (Debian r-cran-survey). Statistic names match the
# names the Python tests give to estimate_ratios / estimate_means / estimate_totals.
# ci_low / ci_high are filled only for svyciprop(method = "logit") rows (NA elsewhere).
suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
api_dir <- if (length(args)) args[[1]] else "../shared/reference-data/r-survey-api"
apistrat <- read.csv(file.path(api_dir, "api_strat.csv"), na.strings = "NA")
apiclus2 <- read.csv(file.path(api_dir, "api_clus2.csv"), na.strings = "NA")
apipop <- read.csv(file.path(api_dir, "api_pop.csv"), na.strings = "NA")

digits12 <- function(x) {
  x <- as.numeric(x)  # drops the dim and names of SE() matrices
  ifelse(is.na(x), NA_character_, sprintf("%.12g", x))
}

rows <- list()
add <- function(case, group_type, group_value, statistic, estimate, se, design,
                ci_low = NA, ci_high = NA) {
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, group_type = group_type, group_value = as.character(group_value),
    statistic = statistic, estimate = digits12(estimate), se = digits12(se),
    df = degf(design), ci_low = digits12(ci_low), ci_high = digits12(ci_high)
  )
}
add_overall <- function(case, statistic, result, design) {
  add(case, "all", "all", statistic, coef(result), SE(result), design)
}
add_by <- function(case, by, statistic, result, design) {
  add(case, by, result[[by]], statistic, coef(result), SE(result), design)
}

ratio_and_mean <- function(case, design, by) {
  add_overall(case, "api_growth_ratio", svyratio(~api00, ~api99, design), design)
  add_overall(case, "api00_mean", svymean(~api00, design), design)
  add_by(case, by, "api_growth_ratio",
         svyby(~api00, as.formula(paste0("~", by)), design, svyratio, denominator = ~api99), design)
  add_by(case, by, "api00_mean", svyby(~api00, as.formula(paste0("~", by)), design, svymean), design)
}

# 1. Stratified cluster sample: districts (dnum) as PSUs within school-type strata.
#    Many districts have no school with awards == "Yes", so domains by awards
#    contain PSUs with no domain member (they must count with z = 0).
options(survey.lonely.psu = "fail")
strat_clus <- svydesign(id = ~dnum, strata = ~stype, weights = ~pw, data = apistrat, nest = TRUE)
ratio_and_mean("strat_clus", strat_clus, "awards")
add_overall("strat_clus", "enroll_total", svytotal(~enroll, strat_clus), strat_clus)
add_by("strat_clus", "awards", "enroll_total", svyby(~enroll, ~awards, strat_clus, svytotal), strat_clus)

# 2. Stratified element sample with finite population correction (fpc = schools per stratum).
strat_fpc <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
ratio_and_mean("strat_fpc", strat_fpc, "awards")
add_overall("strat_fpc", "enroll_total", svytotal(~enroll, strat_fpc), strat_fpc)
add_by("strat_fpc", "awards", "enroll_total", svyby(~enroll, ~awards, strat_fpc, svytotal), strat_fpc)

# 3./4. Cluster sample stratified by county: 26 counties, 40 districts, so most
#       counties are strata with a single (lonely) PSU.
clus_county <- svydesign(id = ~dnum, strata = ~cname, weights = ~pw, data = apiclus2, nest = TRUE)
options(survey.lonely.psu = "adjust")
ratio_and_mean("lonely_adjust", clus_county, "stype")
options(survey.lonely.psu = "certainty")
ratio_and_mean("lonely_certainty", clus_county, "stype")
add_overall("lonely_certainty", "api_stu_total", svytotal(~api.stu, clus_county), clus_county)
add_by("lonely_certainty", "stype", "api_stu_total",
       svyby(~api.stu, ~stype, clus_county, svytotal), clus_county)

# 5.-9. Post-stratification to the population counts of api_pop.csv
#       (postStratify(design, ~g, data.frame(g = ..., Freq = ...))).
pop_counts <- function(column) {
  counts <- as.data.frame(table(apipop[[column]]), stringsAsFactors = FALSE)
  names(counts) <- c(column, "Freq")
  counts
}
ratio_mean_total <- function(case, design, by, total) {
  ratio_and_mean(case, design, by)
  name <- paste0(gsub(".", "_", total, fixed = TRUE), "_total")
  add_overall(case, name, svytotal(as.formula(paste0("~", total)), design), design)
  add_by(case, by, name, svyby(as.formula(paste0("~", total)), as.formula(paste0("~", by)),
                               design, svytotal), design)
}
options(survey.lonely.psu = "fail")
# 5./6. apistrat on its own strata (stype), without and with fpc; domains by awards. pw is
#       stored to 8 digits, so its sums miss the counts slightly and estimates move by ~1e-10.
strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat)
ratio_mean_total("ps_stype", postStratify(strat, ~stype, pop_counts("stype")), "awards", "enroll")
ratio_mean_total("ps_stype_fpc", postStratify(strat_fpc, ~stype, pop_counts("stype")),
                 "awards", "enroll")
# 7. apistrat with fpc post-stratified on awards: post-strata cut across the strata and
#    the weights vary within post-strata; domains by sch.wide.
ratio_mean_total("ps_awards_fpc", postStratify(strat_fpc, ~awards, pop_counts("awards")),
                 "sch.wide", "enroll")
# 8. apiclus2 (districts as PSUs) post-stratified on stype: post-strata cut across PSUs.
clus2 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus2)
clus2_ps <- postStratify(clus2, ~stype, pop_counts("stype"))
ratio_mean_total("ps_clus2", clus2_ps, "awards", "api.stu")
# 9. County strata with lonely PSUs ("adjust") and post-strata by stype.
options(survey.lonely.psu = "adjust")
ratio_mean_total("ps_lonely_adjust", postStratify(clus_county, ~stype, pop_counts("stype")),
                 "awards", "api.stu")

# 10.-12. Logit confidence intervals for a proportion: svyciprop(method = "logit"), whose
#         df default is degf(design). svyby hands svyciprop the domain's subset, whose
#         degf counts only the PSUs and strata holding domain members; df = degf(design)
#         is passed so that domains use the full design's df, as the Python estimator does.
#         api00 > 880 has domains with no member above the threshold (p = 0).
options(survey.lonely.psu = "fail")
add_ciprop <- function(case, design, by, threshold) {
  statistic <- paste0("api00_gt_", threshold, "_share")
  formula <- as.formula(paste0("~I(api00 > ", threshold, ")"))
  overall <- svyciprop(formula, design, method = "logit")
  ci <- attr(overall, "ci")
  add(case, "all", "all", statistic, coef(overall), SE(overall), design, ci[[1]], ci[[2]])
  domains <- svyby(formula, as.formula(paste0("~", by)), design, svyciprop, method = "logit",
                   vartype = c("se", "ci"), df = degf(design))
  add(case, by, domains[[by]], statistic, coef(domains), SE(domains), design,
      domains$ci_l, domains$ci_u)
}
add_ciprop("ciprop_strat_fpc", strat_fpc, "awards", 700)
add_ciprop("ciprop_strat_fpc", strat_fpc, "stype", 880)
add_ciprop("ciprop_clus2", clus2, "stype", 700)
add_ciprop("ciprop_ps_clus2", clus2_ps, "awards", 700)

out <- do.call(rbind, rows)
write.csv(out, stdout(), row.names = FALSE, quote = TRUE)
message("R ", getRversion(), ", survey ", packageVersion("survey"))
