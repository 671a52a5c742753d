/* Prints sizeof and offsetof of every public struct the Python binding
 * mirrors with ctypes (libsmtp/_ffi.py STRUCTS), as "name size" and
 * "name.field offset" lines; test_load.py compares them with ctypes.
 * Keep in step with _ffi.STRUCTS (test_load.py fails on a missing line). */
#include <smtp/smtp.h>
#include <stddef.h>
#include <stdio.h>

#define S(t) printf(#t " %zu\n", sizeof(t))
#define F(t, f) printf(#t "." #f " %zu\n", offsetof(t, f))

int main(void) {
  S(smtp_span);
  F(smtp_span, ptr);
  F(smtp_span, len);
  S(smtp_tls_info);
  F(smtp_tls_info, protocol);
  F(smtp_tls_info, cipher);
  F(smtp_tls_info, sni);
  F(smtp_tls_info, peer_verified);
  F(smtp_tls_info, has_peer_cert);
  S(smtp_mailbox);
  F(smtp_mailbox, local);
  F(smtp_mailbox, domain);
  F(smtp_mailbox, domain_kind);
  F(smtp_mailbox, quoted);
  F(smtp_mailbox, utf8);
  F(smtp_mailbox, reserved);
  S(smtp_path);
  F(smtp_path, raw);
  F(smtp_path, address);
  F(smtp_path, route);
  F(smtp_path, mailbox);
  F(smtp_path, is_null);
  F(smtp_path, is_postmaster);
  F(smtp_path, reserved);
  S(smtp_command);
  F(smtp_command, verb);
  F(smtp_command, verb_text);
  F(smtp_command, args);
  S(smtp_enhanced_code);
  F(smtp_enhanced_code, cls);
  F(smtp_enhanced_code, subject);
  F(smtp_enhanced_code, detail);
  S(smtp_reply);
  F(smtp_reply, code);
  F(smtp_reply, has_enhanced);
  F(smtp_reply, enhanced);
  F(smtp_reply, nlines);
  F(smtp_reply, lines);
  S(smtp_ext_keyword);
  F(smtp_ext_keyword, keyword);
  F(smtp_ext_keyword, params);
  S(smtp_capabilities);
  F(smtp_capabilities, flags);
  F(smtp_capabilities, size_max);
  F(smtp_capabilities, size_has_value);
  F(smtp_capabilities, auth_mechs);
  F(smtp_capabilities, limits_rcptmax);
  F(smtp_capabilities, limits_mailmax);
  F(smtp_capabilities, limits_rcptdomainmax);
  F(smtp_capabilities, greeting);
  F(smtp_capabilities, nkeywords);
  F(smtp_capabilities, ndropped);
  F(smtp_capabilities, keywords);
  F(smtp_capabilities, reserved);
  S(smtp_server_helo);
  F(smtp_server_helo, verb);
  F(smtp_server_helo, name);
  F(smtp_server_helo, name_kind);
  S(smtp_server_mail);
  F(smtp_server_mail, path);
  F(smtp_server_mail, params);
  F(smtp_server_mail, size);
  F(smtp_server_mail, has_size);
  F(smtp_server_mail, body);
  F(smtp_server_mail, smtputf8);
  F(smtp_server_mail, requiretls);
  F(smtp_server_mail, ret);
  F(smtp_server_mail, envid);
  F(smtp_server_mail, has_envid);
  F(smtp_server_mail, auth);
  F(smtp_server_mail, has_auth);
  S(smtp_server_rcpt);
  F(smtp_server_rcpt, path);
  F(smtp_server_rcpt, params);
  F(smtp_server_rcpt, notify);
  F(smtp_server_rcpt, orcpt_type);
  F(smtp_server_rcpt, orcpt);
  F(smtp_server_rcpt, has_orcpt);
  F(smtp_server_rcpt, index);
  S(smtp_server_data_end);
  F(smtp_server_data_end, size);
  F(smtp_server_data_end, seen);
  F(smtp_server_data_end, refused);
  F(smtp_server_data_end, rcpt_index);
  F(smtp_server_data_end, bdat);
  S(smtp_server_auth);
  F(smtp_server_auth, mech);
  F(smtp_server_auth, authzid);
  F(smtp_server_auth, authcid);
  F(smtp_server_auth, password);
  S(smtp_server_auth_step);
  F(smtp_server_auth_step, mech);
  F(smtp_server_auth_step, mech_name);
  F(smtp_server_auth_step, step);
  F(smtp_server_auth_step, response);
  F(smtp_server_auth_step, has_response);
  S(smtp_client_txn_result);
  F(smtp_client_txn_result, status);
  F(smtp_client_txn_result, nrcpt);
  F(smtp_client_txn_result, naccepted);
  F(smtp_client_txn_result, ndelivered);
  F(smtp_client_txn_result, reserved);
  S(smtp_client_event);
  F(smtp_client_event, type);
  F(smtp_client_event, error);
  F(smtp_client_event, index);
  F(smtp_client_event, part);
  F(smtp_client_event, reply);
  F(smtp_client_event, caps);
  F(smtp_client_event, txn);
  F(smtp_client_event, result);
  F(smtp_client_event, reserved);
  S(smtp_script_error);
  F(smtp_script_error, line);
  F(smtp_script_error, message);
  F(smtp_script_error, reserved);
  S(smtp_script_action);
  F(smtp_script_action, code);
  F(smtp_script_action, enhanced);
  F(smtp_script_action, text);
  F(smtp_script_action, delay_ms);
  F(smtp_script_action, tarpit_ms);
  F(smtp_script_action, close);
  F(smtp_script_action, matched);
  F(smtp_script_action, reserved);
  return 0;
}
