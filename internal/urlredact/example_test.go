package urlredact_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/urlredact"
)

func ExampleString() {
	// A JWKS URL whose username is a token and whose query holds a
	// function key: neither may reach an error, a log or an audit record.
	fmt.Println(urlredact.String("https://TOKEN@login.example.com/keys?code=s3cret&format=jwks"))
	// Output: https://xxxxx@login.example.com/keys?code=xxxxx&format=xxxxx
}
