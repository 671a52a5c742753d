/* A small program built against libsmtp the way a user builds one: it
 * checks the library version, then runs a server session over memory
 * (EHLO, QUIT) and a reply parse, and prints what happened. Exit 0 only
 * when every step worked. */
#include <stdio.h>
#include <string.h>
#include <smtp/smtp.h>

int main(void) {
  smtp_server_session *s;
  smtp_reply_parser *p;
  const smtp_reply *r = NULL;
  const char *out;
  char all[2048];
  size_t got = 0;
  const char in[] = "EHLO client.example\r\nQUIT\r\n";
  smtp_ssize n;
  if (smtp_version_check(SMTP_API_VERSION_MAJOR, SMTP_API_VERSION_MINOR) != 0) {
    fprintf(stderr, "libsmtp %s does not serve API %d.%d\n", smtp_version_string(),
            SMTP_API_VERSION_MAJOR, SMTP_API_VERSION_MINOR);
    return 1;
  }
  if (smtp_server_session_new(&s, NULL, NULL, NULL, NULL) != SMTP_OK) return 1;
  if (smtp_server_session_mem_recv(s, in, sizeof in - 1) < 0) return 1;
  while ((n = smtp_server_session_mem_send(s, &out)) > 0 && got + (size_t)n < sizeof all) {
    memcpy(all + got, out, (size_t)n);
    got += (size_t)n;
    smtp_server_session_mem_consume(s, (size_t)n);
  }
  smtp_server_session_del(s);
  all[got] = '\0';
  if (!strstr(all, "\r\n250") || !strstr(all, "221 ")) {
    fprintf(stderr, "unexpected server output:\n%s", all);
    return 1;
  }
  if (smtp_reply_parser_new(&p, 0, 0, NULL) != SMTP_OK) return 1;
  if (smtp_reply_parser_feed(p, "250-a\r\n250 b\r\n", 14) != 14) return 1;
  r = smtp_reply_parser_reply(p);
  if (!r || r->code != 250) return 1;
  smtp_reply_parser_del(p);
  printf("libsmtp %s: server session and reply parser work\n", smtp_version_string());
  return 0;
}
