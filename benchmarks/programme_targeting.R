# The programme targeting table with R's `survey` package: the comparison side of
# benchmarks/programme_targeting.py, which writes the inputs and calls this script:
#   Rscript benchmarks/programme_targeting.R INPUT.csv SPEC.csv GROUPS LONELY_PSU OUT.csv TIMING.json
#
# INPUT.csv: one row per household: w (the design weight), strata, psu (integer codes of the
# pipeline's psu, nested within strata), the 0/1 and money columns of
# transforms.targeting.add_indicator_columns (without their leading "__"), and the group columns
# (as text, as the pipeline reports group values). SPEC.csv: one row per published rate:
# a ratio numerator/denominator divided by `divisor` (CGH = cgh_share / 0.4), or, when
# numerator_b is given, the difference numerator/denominator - numerator_b/denominator_b
# (the targeting differential), whose SE comes from svycontrast on a joint svyratio.
# GROUPS: comma-separated group columns. LONELY_PSU: survey.lonely.psu, as transforms.survey.
#
# Only the survey computation is timed (svydesign and every svyratio / svyby), not the reading.
# Needs R with survey and data.table (Debian: r-cran-survey, r-cran-data.table).
suppressPackageStartupMessages({
  library(survey)
  library(data.table)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 6) stop("usage: INPUT.csv SPEC.csv GROUPS LONELY_PSU OUT.csv TIMING.json")
groups <- strsplit(args[[3]], ",", fixed = TRUE)[[1]]
options(survey.lonely.psu = args[[4]])

spec <- fread(args[[2]], colClasses = "character", na.strings = "")
text_columns <- setNames(rep("character", length(groups) + 1), c("strata", groups))
data <- as.data.frame(fread(args[[1]], colClasses = text_columns))

# The difference of two ratios, R_a - R_b, with its linearised SE (svyby calls it per domain).
ratio_difference <- function(formula, design, numerators, denominators, ...) {
  joint <- svyratio(numerators, denominators, design, covmat = TRUE)
  names <- names(coef(joint))  # a/a', b/a', a/b', b/b': the wanted pair is first and last
  weights <- setNames(rep(0, length(names)), names)
  weights[[1]] <- 1
  weights[[length(names)]] <- -1
  svycontrast(joint, weights)
}

rows <- list()
add <- function(statistic, group_type, group_value, estimate, se) {
  rows[[length(rows) + 1]] <<- data.frame(
    group_type = group_type, group_value = as.character(group_value), statistic = statistic,
    estimate = as.numeric(estimate), se = as.numeric(se)
  )
}

estimate_all <- function(design) {
  for (i in seq_len(nrow(spec))) {
    s <- spec[i]
    numerator <- as.formula(paste0("~", s$numerator))
    denominator <- as.formula(paste0("~", s$denominator))
    if (is.na(s$numerator_b)) {
      divisor <- as.numeric(s$divisor)
      overall <- svyratio(numerator, denominator, design)
      add(s$statistic, "all", "all", coef(overall) / divisor, SE(overall) / divisor)
      for (group in groups) {
        by <- svyby(numerator, as.formula(paste0("~", group)), design, svyratio,
                    denominator = denominator)
        add(s$statistic, group, by[[group]], coef(by) / divisor, SE(by) / divisor)
      }
    } else {
      numerators <- as.formula(paste0("~", s$numerator, "+", s$numerator_b))
      denominators <- as.formula(paste0("~", s$denominator, "+", s$denominator_b))
      overall <- ratio_difference(NULL, design, numerators, denominators)
      add(s$statistic, "all", "all", coef(overall), SE(overall))
      for (group in groups) {
        by <- svyby(numerator, as.formula(paste0("~", group)), design, ratio_difference,
                    numerators = numerators, denominators = denominators)
        add(s$statistic, group, by[[group]], coef(by), SE(by))
      }
    }
  }
}

design_time <- system.time(
  design <- svydesign(ids = ~psu, strata = ~strata, weights = ~w, nest = TRUE, data = data)
)
estimate_time <- system.time(estimate_all(design))

out <- do.call(rbind, rows)
out$estimate <- sprintf("%.17g", out$estimate)
out$se <- sprintf("%.17g", out$se)
write.csv(out, args[[5]], row.names = FALSE)
writeLines(sprintf(
  '{"r_seconds": %.3f, "design_seconds": %.3f, "estimate_seconds": %.3f, "r_version": "%s", "survey_version": "%s"}',
  design_time[["elapsed"]] + estimate_time[["elapsed"]], design_time[["elapsed"]],
  estimate_time[["elapsed"]], getRversion(), packageVersion("survey")
), args[[6]])
