//! The demo's files: one key file per organisation, named so that a person recognises it and the
//! console can read the org code from it (`<role>-<short name>-<code>.pem`), and a README in
//! Chinese that a newcomer opens first.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::SigningKey;

use super::district::Role;
use super::plan::DemoOrg;
use crate::protocol::keys;

/// `产废-常州澄岚化工-91320404MA1DM00015.pem`: the code is the last part, before `.pem`.
pub fn key_file_name(role: Role, short: &str, org: &str) -> String {
    format!("{}-{short}-{org}.pem", role.label())
}

/// The org's key from `dir`, created (mode 0600) when its file is missing. Returns the key and
/// whether it was created.
pub fn org_key(dir: &Path, o: &DemoOrg) -> anyhow::Result<(SigningKey, bool)> {
    keys::load_or_create(&dir.join(key_file_name(o.role, &o.short, &o.org)))
}

/// Puts a copy of the regulator's key in `dir` under its demo name. A file of that name holding
/// another key (left from an earlier ledger) is replaced.
pub fn regulator_copy(
    dir: &Path,
    short: &str,
    org: &str,
    key: &SigningKey,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(key_file_name(Role::Regulator, short, org));
    if path.exists() {
        match keys::load(&path) {
            Ok(k) if k.to_bytes() == key.to_bytes() => return Ok(path),
            _ => {
                tracing::info!(path = %path.display(), "replacing a regulator key file of an earlier ledger");
                fs::remove_file(&path)
                    .with_context(|| format!("cannot replace {}", path.display()))?;
            }
        }
    }
    keys::write_new(&path, key)?;
    Ok(path)
}

fn district_name(region: &str) -> &'static str {
    match region {
        "320402" => "天宁区",
        "320404" => "钟楼区",
        "320411" => "新北区",
        "320412" => "武进区",
        "320413" => "金坛区",
        _ => "常州市",
    }
}

/// One case for the README: what it shows, where to look, who sees it.
pub struct Case {
    pub what: String,
    pub where_: String,
    pub who: Option<String>,
}

/// Everything the README says.
pub struct Readme<'a> {
    pub url: &'a str,
    pub regulator: (&'a str, &'a str, String),
    pub orgs: &'a [DemoOrg],
    pub cases: &'a [Case],
    pub left_out: &'a [String],
    pub max_backdate_days: i64,
}

/// Writes `dir/README.txt`.
pub fn write_readme(dir: &Path, r: &Readme) -> anyhow::Result<PathBuf> {
    let mut t = String::new();
    let url = r.url.trim_end_matches('/');
    let _ = writeln!(t, "钟楼区演示账本（hwledger 演示数据）");
    let _ = writeln!(t, "==================================");
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "这里的单位名称、统一社会信用代码、许可证、联单、车牌和问题清单全部是虚构的演示数据，\n与任何真实单位无关。本目录中的私钥只用于这个演示账本，切勿用于生产账本。"
    );
    let _ = writeln!(t);
    let _ = writeln!(t, "一、登录控制台");
    let _ = writeln!(t, "  1. 用浏览器打开 {url}/");
    let _ = writeln!(
        t,
        "  2. 在“登录”页选择下面某个单位的密钥文件（.pem）；该单位的统一社会信用代码\n     （文件名最后一段的 18 位代码）会自动填入，核对后点“登录”。"
    );
    let _ = writeln!(
        t,
        "  3. 私钥只在浏览器里使用，不会上传；每个单位只能看到与自己有关的联单和问题。"
    );
    let _ = writeln!(t, "  先以“监管”身份登录，可以看到全区的情况。");
    let _ = writeln!(t);
    let _ = writeln!(t, "二、单位与密钥文件");
    let (reg_name, reg_short, reg_org) = (&r.regulator.0, &r.regulator.1, &r.regulator.2);
    let section = |t: &mut String, role: Role, rows: Vec<(String, String, String, String)>| {
        let _ = writeln!(t);
        let _ = writeln!(t, "【{}】", role_title(role));
        for (name, org, region, file) in rows {
            let _ = writeln!(t, "  {name}（{region}）");
            let _ = writeln!(t, "      统一社会信用代码：{org}");
            let _ = writeln!(t, "      密钥文件：{file}");
        }
    };
    section(
        &mut t,
        Role::Regulator,
        vec![(
            reg_name.to_string(),
            reg_org.clone(),
            "钟楼区".into(),
            key_file_name(Role::Regulator, reg_short, reg_org),
        )],
    );
    for role in [Role::Generator, Role::Carrier, Role::Receiver] {
        let rows = r
            .orgs
            .iter()
            .filter(|o| o.role == role)
            .map(|o| {
                (
                    o.name.clone(),
                    o.org.clone(),
                    format!("{}，{}", district_name(&o.region), o.industry),
                    key_file_name(o.role, &o.short, &o.org),
                )
            })
            .collect();
        section(&mut t, role, rows);
    }
    let _ = writeln!(t);
    let _ = writeln!(t, "三、值得一看的案例");
    for c in r.cases {
        let _ = write!(t, "  · {}：{}", c.what, c.where_);
        if let Some(who) = &c.who {
            let _ = write!(t, "（也可以{who}身份登录查看）");
        }
        let _ = writeln!(t);
    }
    if !r.left_out.is_empty() {
        let _ = writeln!(t);
        let _ = writeln!(t, "  账本的补录时限不足以容纳以下案例，未写入：");
        for l in r.left_out {
            let _ = writeln!(t, "  · {l}");
        }
    }
    let _ = writeln!(t);
    let _ = writeln!(t, "四、说明");
    let _ = writeln!(
        t,
        "  · 历史数据是按录入时的日期倒推生成的；录入完毕后，账本的补录时限为 {} 天。",
        r.max_backdate_days
    );
    let _ = writeln!(
        t,
        "  · 运输超期、利用处置超期、贮存超期等问题由账本定时检查自动立案，服务启动后一分钟内出现。"
    );
    let _ = writeln!(
        t,
        "  · 再次运行演示命令不会重复写入：账本里已有演示数据时，它什么也不做。"
    );
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("README.txt");
    fs::write(&path, t).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn role_title(role: Role) -> &'static str {
    match role {
        Role::Regulator => "监管：生态环境局",
        Role::Generator => "产废单位",
        Role::Carrier => "运输单位",
        Role::Receiver => "接收单位（持危险废物经营许可证）",
    }
}
