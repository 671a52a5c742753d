/* The client session without SASL (built with -Dsasl=false instead of
 * client_auth.c and scram.c): no mechanism is supported, so a session given
 * credentials ends its AUTH step with SMTP_ERR_AUTH_UNAVAILABLE, as against
 * a server with no mechanism in common (RFC 4954 4);
 * smtp_client_options_set_auth_mechanism() returns SMTP_ERR_UNSUPPORTED and
 * the settings that name a mechanism or a channel-binding type
 * (preference, application mechanisms, channel binding) refuse it as
 * SMTP_ERR_INVALID_ARGUMENT, since no name is known. */
#include <smtp/common.h>

#include "client_auth.h"
#include "internal.h"

unsigned int smtp__sasl_client_supported(int have_password, int have_token, int have_random) {
  (void)have_password;
  (void)have_token;
  (void)have_random;
  return 0;
}

void smtp__client_auth_creds_cb(smtp__sasl_creds *cr, const smtp__client_cbind *cb,
                                uint32_t max_iter) {
  (void)cb;
  cr->cb_name = NULL;
  cr->cb_data = NULL;
  cr->cb_len = 0;
  cr->max_iter = max_iter;
}

unsigned int smtp__sasl_client_choose(unsigned int offered, unsigned int supported) {
  (void)offered;
  (void)supported;
  return 0;
}

unsigned int smtp__sasl_client_cb_policy(unsigned int mech, unsigned int offered, int have_cb,
                                         int *err) {
  (void)mech;
  (void)offered;
  (void)have_cb;
  *err = SMTP_ERR_AUTH_UNAVAILABLE;
  return 0;
}

unsigned int smtp__sasl_client_choose_order(unsigned int offered, unsigned int supported,
                                            const unsigned int *order, size_t n) {
  (void)offered;
  (void)supported;
  (void)order;
  (void)n;
  return 0;
}

int smtp__sasl_client_start(smtp__sasl_client *s, unsigned int mech, const smtp__sasl_creds *cr,
                            const char *nonce, size_t nonce_len, char *out, size_t cap,
                            size_t *outlen, int *has_ir) {
  (void)s; (void)mech; (void)cr; (void)nonce; (void)nonce_len; (void)out; (void)cap;
  *outlen = 0;
  *has_ir = 0;
  return SMTP_ERR_UNSUPPORTED;
}

int smtp__sasl_client_start_custom(smtp__sasl_client *s, const smtp_sasl_mechanism *m,
                                   const smtp__sasl_creds *cr, char *out, size_t cap,
                                   size_t *outlen, int *has_ir) {
  (void)s; (void)m; (void)cr; (void)out; (void)cap;
  *outlen = 0;
  *has_ir = 0;
  return SMTP_ERR_UNSUPPORTED;
}

int smtp__sasl_mech_name_ok(const char *name) {
  (void)name;
  return 0;
}

int smtp__sasl_client_step(smtp__sasl_client *s, const smtp__sasl_creds *cr, const char *chal,
                           size_t chal_len, char *out, size_t cap, size_t *outlen) {
  (void)s; (void)cr; (void)chal; (void)chal_len; (void)out; (void)cap;
  *outlen = 0;
  return SMTP_ERR_UNSUPPORTED;
}

int smtp__sasl_client_success_ok(const smtp__sasl_client *s) {
  (void)s;
  return 0;
}

void smtp__sasl_client_wipe(smtp__sasl_client *s) { smtp__wipe(s, sizeof *s); }

/* The two SCRAM helpers client.c asks (scram.c is not built). */
int smtp__scram_alg(unsigned int mech) {
  (void)mech;
  return 0;
}

int smtp__scram_cbname_ok(const char *name, size_t len) {
  (void)name;
  (void)len;
  return 0;
}

static unsigned int no_plus(unsigned int mech) {
  (void)mech;
  return 0;
}

const smtp__sasl_client_ops smtp__sasl_client_impl = {
    smtp__sasl_client_supported, smtp__client_auth_creds_cb, smtp__sasl_client_choose,
    smtp__sasl_client_choose_order, smtp__sasl_client_start, smtp__sasl_client_start_custom,
    smtp__sasl_client_step, smtp__sasl_client_success_ok, smtp__sasl_client_wipe,
    smtp__scram_alg, smtp__sasl_client_cb_policy, no_plus, smtp__cli_reply_auth};
