//! Cross-site request forgery in a real browser (issue 12, class 6). The attacker's page is
//! served from another port of the same host: another *origin* but the same *site*, like a
//! sibling host of the clinic's domain, so Chromium sends the `SameSite=Strict` session cookie
//! with its forms. Only the node's own checks (the form's token and `Origin`) stand in the way.

use std::io::{Read, Write};
use std::net::TcpListener;

use fantoccini::Locator;

use crate::harness::*;

/// Serves `html` to every request on a free loopback port, from a thread, for the rest of the
/// test process; returns the page's URL.
fn attacker_page(html: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_posted_from_another_origin_of_the_same_site_is_refused() {
    let ui = Ui::start("csrf").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.outside_care(&facility)[0];
    let chart = format!("/ui/pacientes/{}", id(patient));
    // The attacker's page: opening a record by break-glass in the clinician's name, then
    // signing the browser into the attacker's account (login CSRF).
    let page = attacker_page(format!(
        r#"<!doctype html><html><body>
<form id="open" method="post" action="{base}{chart}/acceso-emergencia">
<input name="reason" value="Urgencia inventada por un atacante"><button id="go-open">ok</button></form>
<form id="login" method="post" action="{base}/ui/entrar">
<input name="user" value="enfermero"><input name="password" value="{password}">
<input name="next" value="/ui/buscar"><button id="go-login">ok</button></form>
</body></html>"#,
        base = ui.base,
        password = password("enfermero"),
    ));
    ui.client.goto(&page).await.unwrap();
    ui.navigate_by("#go-open").await;
    let refusal = ui.text("main").await;
    assert!(
        refusal.contains("no proviene de este sitio"),
        "the forged form is refused: {refusal}"
    );
    ui.screenshot("refused").await;
    // The record is still closed: the break-glass dialog, no chart.
    ui.goto(&chart).await;
    ui.css("#break-glass").await;
    assert!(ui.client.find(Locator::Css("#timeline")).await.is_err());
    // Login CSRF: the browser is still the physician's, not the attacker's account.
    ui.client.goto(&page).await.unwrap();
    ui.navigate_by("#go-login").await;
    assert!(ui.text("main").await.contains("no proviene de este sitio"));
    ui.goto("/ui/buscar").await;
    let header = ui.text("#usuario").await;
    assert!(header.contains("Dra. Ana López Ruiz"), "{header}");
    // The clinician's own form, with its token and this origin, still works.
    ui.goto(&chart).await;
    ui.fill("#reason", "Paciente inconsciente en urgencias")
        .await;
    ui.navigate_by("#break-glass-open").await;
    ui.css("#timeline").await;
}
