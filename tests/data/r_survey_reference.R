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
suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
api_dir <- if (length(args)) args[[1]] else "../shared/reference-data/r-survey-api"
apistrat <- read.csv(file.path(api_dir, "api_strat.csv"), na.strings = "NA")
apiclus2 <- read.csv(file.path(api_dir, "api_clus2.csv"), na.strings = "NA")

rows <- list()
add <- function(case, group_type, group_value, statistic, estimate, se, design) {
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, group_type = group_type, group_value = as.character(group_value),
    statistic = statistic, estimate = sprintf("%.12g", as.numeric(estimate)),
    se = sprintf("%.12g", as.numeric(se)), df = degf(design)
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

out <- do.call(rbind, rows)
write.csv(out, stdout(), row.names = FALSE, quote = TRUE)
message("R ", getRversion(), ", survey ", packageVersion("survey"))
