//! Public mail providers: domains where anyone can get an address, so the
//! domain says nothing about which organisation a person belongs to.
//!
//! People at these domains get an organisation of their own instead of one
//! shared by everyone at the provider. The list covers the large consumer
//! providers; it is kept sorted so a binary search finds a domain.

/// Consumer mail domains, sorted.
pub const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "126.com",
    "163.com",
    "aim.com",
    "aol.com",
    "fastmail.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.fr",
    "icloud.com",
    "inbox.com",
    "live.com",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "outlook.com",
    "pm.me",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "rediffmail.com",
    "t-online.de",
    "tutanota.com",
    "web.de",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.fr",
    "yandex.com",
    "yandex.ru",
    "ymail.com",
    "zoho.com",
];

/// Whether a (lower-case) domain belongs to a public mail provider.
pub fn is_public_mail_domain(domain: &str) -> bool {
    PUBLIC_MAIL_DOMAINS.binary_search(&domain).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_so_lookups_work() {
        let mut sorted = PUBLIC_MAIL_DOMAINS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, PUBLIC_MAIL_DOMAINS);
        assert!(is_public_mail_domain("gmail.com"));
        assert!(is_public_mail_domain("outlook.com"));
        assert!(!is_public_mail_domain("acme.com"));
    }
}
