package secrets

import (
	"errors"
	"fmt"
	"strings"
)

// jaasLogin is what a Java sasl.jaas.config value says.
type jaasLogin struct {
	mechanism string // "PLAIN" or "SCRAM" (the SCRAM variant comes from sasl.mechanism)
	username  string
	password  string
}

// jaasShape is the form parseJAAS expects. Its error texts describe the
// position and the expected form, never the text itself: the value holds a
// password, and a malformed one may hold it anywhere.
const jaasShape = `expected <LoginModule> required username="..." password="...";`

// parseJAAS parses a Java JAAS login entry as Kafka clients use it in
// sasl.jaas.config:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
//	org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";
//
// Values may be quoted (with \" and \\ escapes) or bare words; the trailing
// semicolon is optional; options other than username and password are
// ignored. Shaded class names (e.g. kafkashaded.org.apache…PlainLoginModule)
// are accepted. Other login modules are reported as unsupported, with a hint
// for MSK IAM and OAUTHBEARER.
func parseJAAS(s string) (jaasLogin, error) {
	var out jaasLogin
	toks, err := jaasTokens(s)
	if err != nil {
		return out, err
	}
	if len(toks) > 0 && toks[len(toks)-1] == ";" {
		toks = toks[:len(toks)-1]
	}
	if len(toks) < 2 {
		return out, errors.New(jaasShape)
	}
	module, flag := toks[0], toks[1]
	switch {
	case strings.HasSuffix(module, "security.plain.PlainLoginModule"):
		out.mechanism = "PLAIN"
	case strings.HasSuffix(module, "security.scram.ScramLoginModule"):
		out.mechanism = "SCRAM"
	case strings.HasSuffix(module, ".IAMLoginModule"):
		return out, errors.New("the MSK IAMLoginModule is not supported here: for Amazon MSK IAM use secrets.NewMSKIAM")
	case strings.HasSuffix(module, ".OAuthBearerLoginModule"):
		return out, errors.New("the OAuthBearerLoginModule is not supported: use librdkafka's sasl.oauthbearer.* keys")
	default:
		return out, errors.New("unsupported login module (want PlainLoginModule or ScramLoginModule)")
	}
	switch flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return out, errors.New("the control flag after the login module must be required, requisite, sufficient or optional")
	}
	for i, opt := range toks[2:] {
		if opt == ";" {
			return out, errors.New("only one login module entry is supported")
		}
		name, val, ok := strings.Cut(opt, "=")
		if !ok || name == "" {
			return out, fmt.Errorf("option %d is not name=value (%s)", i+1, jaasShape)
		}
		switch name {
		case "username":
			out.username = val
		case "password":
			out.password = val
		}
	}
	if out.username == "" {
		return out, errors.New("no username option")
	}
	if out.password == "" {
		return out, errors.New("no password option")
	}
	return out, nil
}

// jaasTokens splits a JAAS entry into words, name=value options (quotes
// removed, escapes resolved) and ";" tokens.
func jaasTokens(s string) ([]string, error) {
	var toks []string
	var b strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			toks = append(toks, b.String())
			b.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == ';':
			flush()
			toks = append(toks, ";")
		case c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					closed = true
					break
				}
				b.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value (%s)", jaasShape)
			}
		default:
			inWord = true
			b.WriteByte(c)
		}
	}
	flush()
	return toks, nil
}
