package pii

// The vocabulary. Every entry is in folded form (fold.go): lower-case ASCII
// letters and digits with nothing between them, or Chinese characters.
// Matching rules are in key.go; the package documentation lists what each
// class means.

// valueKind says what a secret's value looks like in free text, for the
// decision log's text rule (text.go).
type valueKind uint8

const (
	kindPassword valueKind = iota // any word after "is" / ":" / "是"; without one, a word with a digit or symbol
	kindCode                      // PINs, CVV, one-time codes: a word holding a digit
	kindExpiry                    // a date such as 12/29: a word holding a digit
	kindCard                      // card numbers: a word holding a digit (the card scan masks full ones)
	kindID                        // identity numbers: a word holding a digit
)

// term is one name of a secret.
type term struct {
	s string
	// strong terms match inside a word ("newpassword", "cardcvv"); the
	// others must be whole words, alone or glued to modifier or value
	// pieces ("paypin", "pinvalue"). Chinese terms match anywhere.
	strong bool
	kind   valueKind
	// textOnly terms name a secret in free text only: as keys they are
	// too often something else ("exp" is a JWT claim).
	textOnly bool
}

// strongTerms are distinctive enough to match inside any word.
var strongTerms = map[valueKind][]string{
	kindPassword: {"password", "passwd", "passcode", "passphrase", "pwd", "privatekey", "apikey",
		"apisecret", "accesstoken", "refreshtoken",
		// misspellings and other languages integrations use
		"pasword", "passowrd", "passwrd", "paswd", "passwort", "motdepasse", "contrasena", "wachtwoord",
		// a wallet's recovery words are its private key
		"privkey", "seedphrase", "recoveryphrase", "mnemonicphrase", "seedwords", "zhujici"},
	kindCode: {"cvv", "cvc", "securitycode", "cardverificationvalue", "cardverificationcode",
		"verificationcode", "verifycode", "smscode", "otpcode", "pincode", "pinblock", "yanzhengma",
		"dongtaima", "duanxinma", "jiaoyanma", "anquanma"},
	kindExpiry: {"expiry", "expirationdate", "youxiaoqi"},
	kindCard:   {"cardnumber", "primaryaccountnumber", "magstripe", "magneticstripe", "trackdata"},
	kindID: {"shenfenzheng", "zhengjianhao", "socialsecuritynumber", "nationalidnumber",
		"identificationnumber", "passportnumber"},
}

// wordTerms must be whole words (or glued to modifier / value pieces).
var wordTerms = map[valueKind][]string{
	kindPassword: {"pw", "pswd", "psw", "pwrd", "pword", "passw", "senha", "mima", "kouling", "secret",
		// credentials and what stands for one (a security question's answer)
		"authtoken", "bearertoken", "sessiontoken", "idtoken", "jwt", "signingkey", "securityanswer",
		"secretanswer", "mothersmaidenname", "maidenname",
		// a session cookie is a credential; a wallet's mnemonic its key
		"cookie", "setcookie", "mnemonic"},
	kindCode: {"pin", "pinnumber", "otp", "totp", "hotp", "mfacode", "vcode", "yzm", "cvn", "ccv", "csc",
		"cvd", "cav", "cardcode", "authcode", "authorizationcode",
		// PINs with a letter glued in front (mobile, transaction, internet banking)
		"mpin", "tpin", "ipin",
		// second-factor codes and card verification spelt out
		"twofactorcode", "twofactortoken", "mfatoken", "tfa", "tfatoken", "twofa",
		// the one-time codes that stand in for a second factor
		"backupcode", "recoverycode", "scratchcode",
		"cardverification", "cardcid", "cidcode"},
	kindExpiry: {"expiration", "expdate", "expmonth", "expyear", "expirymonth", "expiryyear",
		"expirationmonth", "expirationyear", "cardexp", "cardexpiration", "cardexpire", "cardexpires",
		"expiredate", "expireddate", "expiremonth", "expireyear", "validthru", "validthrough", "goodthru",
		"cardvaliduntil", "cardvalidto", "mmyy", "yymm", "expmmyy", "expmm", "expyy", "expmo", "expyr",
		"ccexp"},
	kindCard: {"pan", "cardno", "cardnum", "cardnbr", "ccnum", "ccnumber", "ccno", "kahao", "track1",
		"track2", "accno"}, // accNo: UnionPay's card number
	kindID: {"ssn", "socialsecurityno", "idnumber", "idno", "idnum", "idcard", "idcardno", "identitycard",
		"identitynumber", "identityno", "nationalid", "residentid", "citizenid", "passport", "passportno",
		"passportnum", "driverlicense", "driverslicense", "driverlicence", "driverslicence",
		"drivinglicense", "drivinglicence", "nric", "hkid", "aadhaar", "aadhar", "sfz", "sfzh", "sfzhm",
		"zjhm", "huzhao", "huzhaohao", "junguanzheng", "tongxingzheng",
		// Alipay's cert_no, UnionPay's certifId: the identity document number
		"certno", "certnum", "certnumber", "certificateno", "certificatenumber", "certifid"},
}

// textTerms name a secret in free text only ("card 5500… exp 12/29").
var textTerms = map[valueKind][]string{
	kindExpiry: {"exp", "expires"},
	kindCode:   {"cvv2", "cvc2"},
}

// hanTerms are Chinese names of secrets, simplified and traditional; they
// match anywhere in a key.
var hanTerms = map[valueKind][]string{
	kindPassword: {"密码", "口令", "密钥", "私钥", "密碼", "密鑰", "私鑰", "助记词", "助記詞"},
	kindCode: {"验证码", "校验码", "动态码", "安全码", "短信码", "授权码", "卡背",
		"驗證碼", "校驗碼", "動態碼", "安全碼", "簡訊碼", "授權碼"},
	kindExpiry: {"有效期"},
	kindCard:   {"卡号", "磁道", "卡號", "卡片号", "卡片號"},
	kindID: {"身份证", "身分证", "证件号", "护照", "社保号", "社会保障号", "驾驶证号", "军官证", "通行证", "户口本",
		"身份證", "身分證", "證件號", "護照", "社會保障號", "駕駛證號", "軍官證", "通行證", "戶口本"},
}

// factWords, after a secret's name, make the key name a fact about the
// secret ("password_reset_at", "pin_failures_1h", "cvv_checked",
// "card_number_last4"), not the secret: the policy uses such facts. Words
// of four letters or more also match as the start of a word ("resets",
// "country").
var factWords = []string{
	// when, how often, how it went
	"at", "ts", "time", "timestamp", "reset", "change", "update", "set", "settings", "unset", "created",
	"create", "modified", "modify", "rotated", "rotation", "expired", "expires", "expiring", "ttl",
	"attempt", "tries", "try", "retry", "retries", "fail", "failure", "failed", "fails", "error", "errors",
	"err", "wrong", "incorrect", "invalid", "mismatch", "count", "counts", "cnt", "total", "rate", "ratio",
	"velocity", "limit", "lock", "locked", "lockout", "blocked", "freeze", "frozen", "age",
	// state and checks
	"status", "state", "result", "check", "match", "verified", "validated", "valid", "validation",
	"present", "presence", "provided", "supplied", "missing", "absent", "empty", "required", "require",
	"needed", "need", "enabled", "enable", "disabled", "disable", "active", "on", "off", "flag", "free",
	"less", "sent", "send", "requested", "request", "issued", "delivered",
	// what kind
	"type", "kind", "mode", "method", "entry", "capability", "policy", "policies", "rule", "rules",
	"strength", "complexity", "length", "len", "size", "format", "version", "source", "channel",
	"provider", "score", "level", "risk", "reason", "question", "name", "id", "ids",
	// the harmless parts of a card number or document
	"bin", "iin", "last", "first", "prefix", "suffix", "tail", "masked", "mask", "token", "tokenized",
	"fingerprint", "brand", "scheme", "network", "issuer", "issuing", "bank", "country", "currency",
	"category", "funding", "product", "image", "img", "photo", "pic", "picture", "url", "uri", "link",
	"file", "scan", "upload", "front", "back",
	// a cookie's or code's use, not its value
	"consent", "accepted", "used", "remaining",
}

// hanFacts are the Chinese fact words, simplified and traditional.
var hanFacts = []string{
	"重置", "重设", "修改", "更改", "变更", "设置", "设定", "错误", "次数", "失败", "时间", "状态", "强度",
	"长度", "结果", "后四位", "前六位", "后4位", "前6位", "尾号", "掩码", "脱敏", "类型", "发送", "是否",
	"照片", "图片", "正面", "反面", "锁定",
	"重設", "變更", "設置", "設定", "錯誤", "次數", "失敗", "時間", "狀態", "強度", "長度", "結果", "後四位",
	"後4位", "尾號", "掩碼", "類型", "發送", "圖片", "鎖定",
}

// windowUnits follow a number to name a time window ("pin_1h",
// "pin_24h", "otp_7d"): a window is a fact.
var windowUnits = []string{
	"h", "hr", "hrs", "hour", "hours", "d", "day", "days", "m", "min", "mins", "minute", "minutes",
	"s", "sec", "secs", "second", "seconds", "w", "wk", "week", "weeks", "mo", "month", "months",
	"y", "yr", "year", "years",
}

// modifiers may be glued in front of a whole-word term ("paypin",
// "zhifumima", "userpin"): a word made of modifiers and then the term is
// the term.
var modifiers = []string{
	"pay", "payment", "login", "logon", "signin", "trade", "trading", "trans", "transaction", "txn",
	"withdraw", "withdrawal", "atm", "card", "bank", "user", "my", "new", "old", "cur", "current",
	"confirm", "customer", "cust", "account", "acct", "acc", "sms", "mobile", "phone", "email", "mail",
	"app", "web", "debit", "credit", "cc", "dynamic", "one", "time", "onetime", "static", "secure",
	"security", "auth", "the", "your", "wallet", "fund", "funds", "transfer", "admin", "root", "master",
	"personal", "national", "resident", "citizen", "social", "client",
	"zhifu", "jiaoyi", "denglu", "tixian", "qukuan", "yinhang", "yinhangka", "shouji", "duanxin",
	"xin", "jiu", "xinyong", "xinyongka", "jieji", "jiejika", "chuxu", "chuxuka",
}

// valuePieces may be glued after a whole-word term ("pinvalue",
// "otpcode", "cvnhash"): the word still holds the secret.
var valuePieces = []string{
	"value", "val", "str", "string", "text", "txt", "plain", "plaintext", "raw", "input", "data", "field",
	"enc", "encrypted", "cipher", "ciphertext", "b", "base", "hex", "code", "no", "num", "number", "nbr",
	"digits", "digit", "confirm", "confirmation", "again", "repeat", "new", "old", "hash", "hashed",
	"md", "sha", "key", "entered", "typed", "given", "s", "haoma",
}

// connectors join a secret's name to its value in free text ("my
// password is hunter2", "验证码是123456").
var connectors = []string{"is", "was", "are", "be", "equals", "of", "为", "是", "為"}
