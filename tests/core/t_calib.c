/*
 * t_calib.c - the calibration file and how networks take it (core/calib.c): every parse
 * error with its line and value, the values AlexNet and ResNet-18 get by relative depth
 * (worked out by hand here), the refusal of a family the file lacks, the closed form of
 * the kept fraction at its limits, the sigma fit inverting it, and the built-in file.
 */
#include "st.h"
#include "tap.h"

static const char *good = "sparsetrain-calibration 1\n"
                          "# a comment\n"
                          "family plain test-net   # trailing comment\n"
                          "relu conv 0 0.2\n"
                          "relu conv 1 0.4\n"
                          "relu fc 0 0.6\n"
                          "sigma conv 0 1.0\n"
                          "sigma conv 1 2.0\n"
                          "sigma fc 0 1.5\n"
                          "sigma fc 0.5 2.5\n"
                          "sigma fc 1 3.0\n";

static int layer_named(const st_net *net, const char *name)
{
    for (int i = 0; i < st_net_count(net); i++)
        if (!strcmp(st_net_layer(net, i)->name, name))
            return i;
    return -1;
}

static void parse_fails(const char *id, const char *text, const char *want)
{
    st_calib c;
    st_err err;
    int rc;

    st_err_clear(&err);
    rc = st_calib_parse(text, "x.calib", &c, &err);
    if (!ok(rc == ST_EINVAL && strstr(err.msg, want) && !c.fam[0].present && !c.fam[1].present,
            "%s refused: %s", id, want))
        diag("rc %d, message '%s'", rc, err.msg);
}

int main(void)
{
    st_calib c;
    st_err err;
    st_net *alex = NULL, *res = NULL;
    st_sparsity_cfg cfg;
    double relu[128], sigma[128], s;
    static const struct {
        const char *name;
        double relu, sigma;
    } want[] = {{"relu1", 0.2, 0},  {"relu2", 0.25, 0}, {"relu3", 0.3, 0},  {"relu4", 0.35, 0},
                {"relu5", 0.4, 0},  {"relu6", 0.6, 0},  {"relu7", 0.6, 0},  {"conv1", 0, 1.0},
                {"conv2", 0, 1.25}, {"conv3", 0, 1.5},  {"conv4", 0, 1.75}, {"conv5", 0, 2.0},
                {"fc6", 0, 1.5},    {"fc7", 0, 2.5},    {"fc8", 0, 3.0},    {"pool1", 0, 0}};
    int nwant = (int)(sizeof want / sizeof want[0]), bad = 0, rc;

    tap_plan(26);
    st_err_clear(&err);

    ok(st_calib_parse(good, "x.calib", &c, &err) == ST_OK && c.fam[0].present &&
           !c.fam[1].present && !strcmp(c.fam[0].source, "test-net") && c.fam[0].n[0] == 2 &&
           c.fam[0].n[3] == 3,
       "calib-1.1 a file of one family parses, comments and all");
    parse_fails("calib-2.1", "", "empty, not a calibration file");
    parse_fails("calib-2.2", "hello 1\n", "x.calib:1: not a calibration file");
    parse_fails("calib-2.3", "sparsetrain-calibration 1\nrelu conv 0 0.5\n",
                "x.calib:2: 'relu' before any 'family' line");
    parse_fails("calib-2.4", "sparsetrain-calibration 1\nfamily odd net\n",
                "x.calib:2: 'family' needs a family (plain or bn)");
    parse_fails("calib-2.5", "sparsetrain-calibration 1\nfamily bn a\nfamily bn b\n",
                "x.calib:3: a second section of family bn");
    parse_fails("calib-2.6", "sparsetrain-calibration 1\nfamily bn a\nrelu pool 0 0.5\n",
                "x.calib:3: 'relu pool': the groups are");
    parse_fails("calib-2.7", "sparsetrain-calibration 1\nfamily bn a\nrelu conv 1.5 0.5\n",
                "x.calib:3: depth '1.5': must be a number in [0, 1]");
    parse_fails("calib-2.8", "sparsetrain-calibration 1\nfamily bn a\nrelu conv 0 0\n",
                "x.calib:3: density '0': must be a number in (0, 1]");
    parse_fails("calib-2.9", "sparsetrain-calibration 1\nfamily bn a\nsigma fc 0 11\n",
                "x.calib:3: sigma '11': must be a number in (0, 10]");
    parse_fails("calib-2.10",
                "sparsetrain-calibration 1\nfamily bn a\nsigma fc 0.5 1\nsigma fc 0.5 2\n",
                "x.calib:4: depth 0.5: the depths of 'sigma fc' must increase");
    parse_fails("calib-2.11", "sparsetrain-calibration 1\nfamily bn a\nsigma fc 0.5\n",
                "x.calib:3: 'sigma fc' needs a depth and a value");
    parse_fails("calib-2.12", "sparsetrain-calibration 1\n# nothing\n", "x.calib: no 'family'");
    {
        char line[700];
        memset(line, 'x', sizeof line);
        memcpy(line, "sparsetrain-calibration 1\n", 26);
        line[sizeof line - 1] = '\0';
        parse_fails("calib-2.13", line, "x.calib:2: longer than 511 characters");
    }
    rc = st_calib_load("/nonexistent/x.calib", &c, &err);
    ok(rc == ST_EIO && strstr(err.msg, "/nonexistent/x.calib: cannot open the calibration"),
       "calib-2.14 a missing file: %s", err.msg);

    /* AlexNet by relative depth: 5 conv ReLUs at 0, 1/4 .. 1 between 0.2 and 0.4; the two
     * FC ReLUs on the single point 0.6; convs 1..2 and FCs on 0, 0.5, 1 */
    st_calib_parse(good, "x.calib", &c, &err);
    if (st_net_builtin("alexnet", &alex, &err) || st_net_builtin("resnet18", &res, &err))
        return diag("%s", err.msg), 1;
    st_sparsity_cfg_init(&cfg);
    rc = st_calib_apply(&c, alex, &cfg, relu, sigma, &err);
    ok(rc == ST_OK && cfg.relu_density_by_layer == relu && cfg.lognormal_sigma_by_layer == sigma &&
           cfg.grad_law == ST_LAW_LOGNORMAL,
       "calib-3.1 alexnet takes the plain family, and the law becomes lognormal");
    for (int k = 0; k < nwant; k++) {
        int i = layer_named(alex, want[k].name);
        if (i < 0 || fabs(relu[i] - want[k].relu) > 1e-12 ||
            fabs(sigma[i] - want[k].sigma) > 1e-12) {
            diag("%s: relu %g sigma %g, want %g %g", want[k].name, i < 0 ? -1 : relu[i],
                 i < 0 ? -1 : sigma[i], want[k].relu, want[k].sigma);
            bad++;
        }
    }
    ok(bad == 0, "calib-3.2 alexnet's %d layers get the values worked out by hand", nwant);
    rc = st_calib_apply(&c, res, &cfg, relu, sigma, &err);
    ok(rc == ST_EINVAL &&
           strstr(err.msg, "x.calib holds no calibration of the family 'bn' (networks with batch "
                           "norm), which network 'resnet18' needs; it has family 'plain' (fitted "
                           "on test-net) only"),
       "calib-3.3 resnet18 is refused a file without family bn: %s", err.msg);
    {
        st_calib c2;
        st_calib_parse("sparsetrain-calibration 1\nfamily plain n\nrelu conv 0 0.5\n"
                       "sigma conv 0 1\nsigma fc 0 1\n",
                       "y.calib", &c2, &err);
        rc = st_calib_apply(&c2, alex, &cfg, relu, sigma, &err);
        ok(rc == ST_EINVAL && strstr(err.msg, "y.calib: family 'plain' (fitted on n) has no "
                                              "'relu fc' rows, which layer 'relu6' of network "
                                              "'alexnet' needs"),
           "calib-3.4 a group the network needs and the file lacks: %s", err.msg);
    }
    {
        double d;
        int g = st_calib_group(res, layer_named(res, "layer1.0.relu2"), &d);
        ok(g == ST_CALIB_RELU_CONV && st_calib_family(res) == ST_CALIB_FAMILY_BN &&
               fabs(d - 2.0 / 16.0) < 1e-12,
           "calib-3.5 resnet18's ReLU after the first add is a conv ReLU at depth 2/16 (%g)", d);
    }

    /* the kept fraction: 1 without a threshold, 1/k for a constant magnitude below it, 0
     * for a huge shape; the fit inverts it */
    ok(st_calib_retention(1.0, 0.0) == 1.0, "calib-4.1 k = 0 keeps everything");
    ok(fabs(st_calib_retention(1e-4, 2.0) - 0.5) < 1e-9,
       "calib-4.2 a near-constant magnitude under tau = 2 E|g| is kept with probability 1/2");
    ok(st_calib_retention(10.0, 2.0) < 1e-3, "calib-4.3 sigma = 10 keeps almost nothing");
    rc = st_calib_fit_sigma(st_calib_retention(1.3, 0.3), 0.3, &s);
    ok(rc == 0 && fabs(s - 1.3) < 1e-9,
       "calib-4.4 the fit gives back sigma = 1.3 at k = 0.3 (%.12g)", s);
    rc = st_calib_fit_sigma(0.9, 2.06, &s);
    ok(rc == 1 && st_calib_retention(s, 2.06) < 0.9,
       "calib-4.5 a kept fraction beyond the law's reach is reported, sigma at the peak (%g)", s);

    st_err_clear(&err);
    ok(st_calib_builtin(&c, &err) == ST_OK && c.fam[0].present,
       "calib-5.1 the built-in calibration parses and has the plain family: %s",
       err.msg[0] ? err.msg : "yes");
    st_net_destroy(&alex);
    st_net_destroy(&res);
    return tap_done();
}
