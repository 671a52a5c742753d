// go-smtp-peer: the Go side of the TLS comparisons and interop tests, built
// offline in GOPATH mode against Debian's golang-github-emersion-go-smtp-dev
// (bench/run-tls-peers and tests/interop build it):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off go build -o go-smtp-peer go-smtp-peer.go
//
// Modes:
//
//	server -cert C -key K [-maildir DIR]
//	    go-smtp server on 127.0.0.1:0 offering STARTTLS with the given pair;
//	    prints "go-smtp-peer: listening on 127.0.0.1:PORT" on stderr; each
//	    message is read and discarded, or stored as DIR/<n>.eml with
//	    "X-TLS: <version> <cipher>" and the envelope prepended.
//	send -addr HOST:PORT -from F -to T [-file MSG] [-ca PEM]
//	    go-smtp client: EHLO, STARTTLS (required; verified against -ca when
//	    given, else not verified), one message; prints "tls=<version>
//	    cipher=<name>" on stdout.
//	load -addr HOST:PORT -s SESSIONS -m MESSAGES -l LENGTH
//	    a TLS load generator on crypto/tls: each session EHLO, STARTTLS,
//	    EHLO, then MAIL/RCPT/DATA pipelined (RFC 2920) and the body, all its
//	    messages on one connection; prints the same summary line as
//	    bench/loadgen: "go-load: N messages (F failed) in S s: R msg/s".
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

type backend struct {
	dir string
	n   int64
}

type session struct {
	be    *backend
	state *smtp.ConnectionState
	from  string
	to    []string
}

func (b *backend) Login(st *smtp.ConnectionState, u, p string) (smtp.Session, error) {
	return nil, smtp.ErrAuthUnsupported
}

func (b *backend) AnonymousLogin(st *smtp.ConnectionState) (smtp.Session, error) {
	return &session{be: b, state: st}, nil
}

func (s *session) Reset()        { s.from = ""; s.to = nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, o smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string) error { s.to = append(s.to, to); return nil }

func tlsName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return "none"
}

func (s *session) Data(r io.Reader) error {
	if s.be.dir == "" {
		_, err := io.Copy(ioutil.Discard, r)
		return err
	}
	body, err := ioutil.ReadAll(r)
	if err != nil {
		return err
	}
	ver, cipher := "none", ""
	if s.state != nil && s.state.TLS.HandshakeComplete {
		ver = tlsName(s.state.TLS.Version)
		cipher = tls.CipherSuiteName(s.state.TLS.CipherSuite)
	}
	n := atomic.AddInt64(&s.be.n, 1)
	head := fmt.Sprintf("X-TLS: %s %s\r\nX-Envelope: %s -> %s\r\n", ver, cipher, s.from, strings.Join(s.to, ","))
	tmp := filepath.Join(s.be.dir, fmt.Sprintf(".%d.tmp", n))
	if err := ioutil.WriteFile(tmp, append([]byte(head), body...), 0644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.be.dir, fmt.Sprintf("%d.eml", n)))
}

func runServer(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	cert := fs.String("cert", "", "certificate (PEM)")
	key := fs.String("key", "", "private key (PEM)")
	dir := fs.String("maildir", "", "store messages here (default: discard)")
	fs.Parse(args)
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-smtp-peer:", err)
		os.Exit(1)
	}
	s := smtp.NewServer(&backend{dir: *dir})
	s.Domain = "go-smtp.test"
	s.MaxMessageBytes = 64 << 20
	s.MaxRecipients = 100
	s.AllowInsecureAuth = true
	s.ReadTimeout = 60 * time.Second
	s.WriteTimeout = 60 * time.Second
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-smtp-peer:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "go-smtp-peer: listening on %s\n", l.Addr())
	if err := s.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "go-smtp-peer:", err)
		os.Exit(1)
	}
}

func clientTLS(ca string) *tls.Config {
	cfg := &tls.Config{ServerName: "localhost", InsecureSkipVerify: ca == ""}
	if ca != "" {
		pem, err := ioutil.ReadFile(ca)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-smtp-peer:", err)
			os.Exit(1)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		cfg.RootCAs = pool
	}
	return cfg
}

func runSend(args []string) {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port")
	from := fs.String("from", "", "envelope sender")
	to := fs.String("to", "", "recipients, comma-separated")
	file := fs.String("file", "", "message (default: stdin)")
	ca := fs.String("ca", "", "verify the server against this CA (PEM)")
	fs.Parse(args)
	var msg []byte
	var err error
	if *file != "" {
		msg, err = ioutil.ReadFile(*file)
	} else {
		msg, err = ioutil.ReadAll(os.Stdin)
	}
	if err == nil {
		err = send(*addr, *from, strings.Split(*to, ","), msg, clientTLS(*ca))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-smtp-peer:", err)
		os.Exit(1)
	}
}

func send(addr, from string, to []string, msg []byte, cfg *tls.Config) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err = c.Hello("go-smtp.test"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return errors.New("no STARTTLS offered")
	}
	if err = c.StartTLS(cfg); err != nil {
		return err
	}
	st, _ := c.TLSConnectionState()
	if err = c.Mail(from, nil); err != nil {
		return err
	}
	for _, t := range to {
		if err = c.Rcpt(t); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err = w.Write(msg); err != nil {
		return err
	}
	if err = w.Close(); err != nil {
		return err
	}
	fmt.Printf("tls=%s cipher=%s\n", tlsName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	return c.Quit()
}

// readReply reads one (possibly multi-line) reply and returns its code.
func readReply(r *bufio.Reader) (int, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if len(line) < 4 {
			return 0, errors.New("short reply line")
		}
		if line[3] != '-' {
			var code int
			fmt.Sscanf(line[:3], "%d", &code)
			return code, nil
		}
	}
}

func expect(r *bufio.Reader, want int) error {
	code, err := readReply(r)
	if err != nil {
		return err
	}
	if code/100 != want/100 {
		return fmt.Errorf("reply %d, wanted %d", code, want)
	}
	return nil
}

// body: word lines of 78 octets plus CRLF, no line starting with a dot,
// exactly length octets (the last line shorter), ending in CRLF.
func makeBody(length int) []byte {
	var b []byte
	line := strings.Repeat("lorem ipsum ", 7)[:78] + "\r\n"
	for len(b)+len(line) <= length {
		b = append(b, line...)
	}
	if rest := length - len(b); rest > 0 {
		if rest >= 2 {
			b = append(b, strings.Repeat("x", rest-2)+"\r\n"...)
		} else {
			b = append(b, 'x')
		}
	}
	return b
}

func loadSession(addr string, msgs int, body []byte, cfg *tls.Config) (int, error) {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer raw.Close()
	r := bufio.NewReader(raw)
	if err = expect(r, 220); err != nil {
		return 0, err
	}
	if _, err = io.WriteString(raw, "EHLO go-load.example.com\r\n"); err != nil {
		return 0, err
	}
	if err = expect(r, 250); err != nil {
		return 0, err
	}
	if _, err = io.WriteString(raw, "STARTTLS\r\n"); err != nil {
		return 0, err
	}
	if err = expect(r, 220); err != nil {
		return 0, err
	}
	tc := tls.Client(raw, cfg)
	if err = tc.Handshake(); err != nil {
		return 0, err
	}
	r = bufio.NewReaderSize(tc, 16384)
	w := bufio.NewWriterSize(tc, 256<<10)
	w.WriteString("EHLO go-load.example.com\r\n")
	if err = w.Flush(); err != nil {
		return 0, err
	}
	if err = expect(r, 250); err != nil {
		return 0, err
	}
	done := 0
	for i := 0; i < msgs; i++ {
		w.WriteString("MAIL FROM:<load@example.com>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n")
		if err = w.Flush(); err != nil {
			return done, err
		}
		for _, want := range []int{250, 250, 354} {
			if err = expect(r, want); err != nil {
				return done, err
			}
		}
		w.WriteString("From: <load@example.com>\r\nTo: <sink@example.org>\r\nSubject: load\r\n\r\n")
		w.Write(body)
		w.WriteString(".\r\n")
		if err = w.Flush(); err != nil {
			return done, err
		}
		if err = expect(r, 250); err != nil {
			return done, err
		}
		done++
	}
	w.WriteString("QUIT\r\n")
	w.Flush()
	readReply(r)
	return done, nil
}

func runLoad(args []string) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port")
	sessions := fs.Int("s", 1, "concurrent sessions")
	messages := fs.Int("m", 1, "messages in total")
	length := fs.Int("l", 1024, "payload octets per message")
	fs.Parse(args)
	body := makeBody(*length)
	cfg := clientTLS("")
	cfg.ClientSessionCache = nil
	var ok, failed int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < *sessions; i++ {
		n := *messages / *sessions
		if i < *messages%*sessions {
			n++
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			done, err := loadSession(*addr, n, body, cfg)
			atomic.AddInt64(&ok, int64(done))
			atomic.AddInt64(&failed, int64(n-done))
			if err != nil {
				fmt.Fprintln(os.Stderr, "go-load:", err)
			}
		}(n)
	}
	wg.Wait()
	s := time.Since(t0).Seconds()
	fmt.Printf("go-load: %d messages (%d failed) in %.3f s: %.1f msg/s\n", ok+failed, failed, s, float64(ok)/s)
	if failed > 0 {
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-smtp-peer server|send|load [options]")
		os.Exit(64)
	}
	switch os.Args[1] {
	case "server":
		runServer(os.Args[2:])
	case "send":
		runSend(os.Args[2:])
	case "load":
		runLoad(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: go-smtp-peer server|send|load [options]")
		os.Exit(64)
	}
}
