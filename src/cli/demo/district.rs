//! The cast of the demo district: invented enterprises of 钟楼区 (Zhonglou District, Changzhou)
//! and its neighbours, the waste each one produces, the carriers, and the receivers licensed to
//! take it. Every name and code here is made up; the waste codes are real catalogue codes common
//! in these industries.

use crate::domain::ids::OrgId;

/// Zhonglou District, Changzhou.
pub const ZHONGLOU: &str = "320404";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Regulator,
    Generator,
    Carrier,
    Receiver,
}

impl Role {
    /// The word a clerk uses for the role, and the first part of a key file's name.
    pub fn label(self) -> &'static str {
        match self {
            Role::Regulator => "监管",
            Role::Generator => "产废",
            Role::Carrier => "运输",
            Role::Receiver => "接收",
        }
    }

    pub fn api(self) -> &'static str {
        match self {
            Role::Regulator => "regulator",
            Role::Generator => "generator",
            Role::Carrier => "carrier",
            Role::Receiver => "receiver",
        }
    }
}

/// One waste stream of a generator: what a period (a month, or a week for health care) yields.
pub struct Waste {
    pub code: &'static str,
    pub min_kg: u32,
    pub max_kg: u32,
    pub form: &'static str,
    pub packaging: &'static str,
}

const fn w(
    code: &'static str,
    min_kg: u32,
    max_kg: u32,
    form: &'static str,
    packaging: &'static str,
) -> Waste {
    Waste {
        code,
        min_kg,
        max_kg,
        form,
        packaging,
    }
}

pub struct Generator {
    pub name: &'static str,
    /// The name without the legal form, for file names: no `-`.
    pub short: &'static str,
    pub region: &'static str,
    pub industry: &'static str,
    /// A public institution (事业单位, code 12…) rather than a company (91…).
    pub public_body: bool,
    /// Days between declarations (申报登记).
    pub period_days: u32,
    /// Periods between shipments.
    pub ship_every: u32,
    pub wastes: &'static [Waste],
}

pub struct Carrier {
    pub name: &'static str,
    pub short: &'static str,
    pub region: &'static str,
    pub plates: &'static [&'static str],
}

/// A licence scope: codes or categories, and activities.
pub type Scope = (&'static [&'static str], &'static [&'static str]);

pub struct Receiver {
    pub name: &'static str,
    pub short: &'static str,
    pub region: &'static str,
    pub licence: &'static str,
    /// 年经营规模 in tonnes.
    pub capacity_t: u64,
    /// Validity relative to today, in days.
    pub valid_from_days: i64,
    pub valid_until_days: i64,
    pub scopes: &'static [Scope],
}

const SOLID: &str = "固态";
const LIQUID: &str = "液态";
const SLUDGE: &str = "半固态";
const BAG: &str = "吨袋";
const DRUM: &str = "200L铁桶";
const IBC: &str = "IBC吨桶";
const BOX: &str = "周转箱";
const MEDICAL: &str = "医疗废物专用包装袋";
const SHARPS: &str = "利器盒";

pub const GENERATORS: &[Generator] = &[
    Generator {
        name: "常州澄岚化工有限公司",
        short: "常州澄岚化工",
        region: ZHONGLOU,
        industry: "化工",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("900-039-49", 800, 2000, SOLID, BAG),
            w("900-404-06", 1500, 4000, LIQUID, DRUM),
            w("900-041-49", 200, 600, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州禾曦新材料科技有限公司",
        short: "常州禾曦新材料",
        region: ZHONGLOU,
        industry: "化工",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("900-041-49", 300, 900, SOLID, BAG),
            w("900-039-49", 500, 1500, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州翊辰精细化工有限公司",
        short: "常州翊辰精细化工",
        region: "320411",
        industry: "化工",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("261-084-45", 2000, 6000, LIQUID, IBC),
            w("900-402-06", 1000, 3000, LIQUID, DRUM),
            w("900-041-49", 200, 500, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州泓溪涂料有限公司",
        short: "常州泓溪涂料",
        region: ZHONGLOU,
        industry: "涂料制造",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("264-012-12", 1000, 3000, SLUDGE, DRUM),
            w("900-041-49", 150, 400, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州昕桐化学品有限公司",
        short: "常州昕桐化学品",
        region: "320412",
        industry: "化工",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("900-349-34", 2000, 5000, LIQUID, IBC),
            w("900-399-35", 1000, 3000, LIQUID, IBC),
            w("900-047-49", 50, 200, SOLID, BOX),
        ],
    },
    Generator {
        name: "常州钰衡树脂有限公司",
        short: "常州钰衡树脂",
        region: ZHONGLOU,
        industry: "合成树脂",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("900-014-13", 300, 900, SOLID, DRUM),
            w("900-041-49", 200, 600, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州锦澜电镀有限公司",
        short: "常州锦澜电镀",
        region: ZHONGLOU,
        industry: "电镀",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("336-054-17", 3000, 8000, SLUDGE, BAG),
            w("336-064-17", 2000, 6000, SLUDGE, BAG),
            w("900-041-49", 100, 300, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州铭泰表面处理有限公司",
        short: "常州铭泰表面处理",
        region: ZHONGLOU,
        industry: "电镀",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("336-064-17", 2000, 5000, SLUDGE, BAG),
            w("336-052-17", 1500, 4000, SLUDGE, BAG),
            w("900-300-34", 1000, 3000, LIQUID, IBC),
        ],
    },
    Generator {
        name: "常州宸锐金属表面处理有限公司",
        short: "常州宸锐金属表面处理",
        region: "320412",
        industry: "电镀",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("336-063-17", 2000, 6000, SLUDGE, BAG),
            w("336-066-17", 500, 1500, LIQUID, IBC),
        ],
    },
    Generator {
        name: "常州耀川五金电镀有限公司",
        short: "常州耀川五金电镀",
        region: ZHONGLOU,
        industry: "电镀",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("336-052-17", 1000, 3000, SLUDGE, BAG),
            w("336-064-17", 800, 2500, SLUDGE, BAG),
        ],
    },
    Generator {
        name: "常州弘毅精密机械有限公司",
        short: "常州弘毅精密机械",
        region: ZHONGLOU,
        industry: "机械加工",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("900-200-08", 300, 1000, SLUDGE, DRUM),
            w("900-218-08", 200, 800, LIQUID, DRUM),
            w("900-041-49", 50, 200, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州澜芯电子科技有限公司",
        short: "常州澜芯电子",
        region: ZHONGLOU,
        industry: "印制电路板",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("398-004-22", 5000, 12000, LIQUID, IBC),
            w("398-005-22", 2000, 5000, SLUDGE, BAG),
            w("900-451-13", 300, 900, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州启辰电路板有限公司",
        short: "常州启辰电路板",
        region: "320411",
        industry: "印制电路板",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("398-051-22", 4000, 10000, LIQUID, IBC),
            w("398-005-22", 1500, 4000, SLUDGE, BAG),
            w("900-356-35", 1000, 2500, LIQUID, IBC),
        ],
    },
    Generator {
        name: "常州汇晟线路板有限公司",
        short: "常州汇晟线路板",
        region: ZHONGLOU,
        industry: "印制电路板",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("398-004-22", 3000, 8000, LIQUID, IBC),
            w("398-006-34", 800, 2000, LIQUID, IBC),
            w("900-451-13", 200, 600, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州晶亚光电有限公司",
        short: "常州晶亚光电",
        region: ZHONGLOU,
        industry: "电子元件",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("398-007-34", 1000, 3000, LIQUID, IBC),
            w("900-404-06", 500, 1500, LIQUID, DRUM),
        ],
    },
    Generator {
        name: "常州康沐药业有限公司",
        short: "常州康沐药业",
        region: ZHONGLOU,
        industry: "化学药品原料药制造",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("271-001-02", 2000, 5000, SLUDGE, DRUM),
            w("271-002-02", 1500, 4000, LIQUID, IBC),
            w("900-039-49", 300, 800, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州瑞禾生物医药有限公司",
        short: "常州瑞禾生物医药",
        region: ZHONGLOU,
        industry: "化学药品原料药制造",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("271-002-02", 1000, 3000, LIQUID, IBC),
            w("900-047-49", 50, 150, SOLID, BOX),
            w("900-041-49", 100, 300, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州正岚制药有限公司",
        short: "常州正岚制药",
        region: "320412",
        industry: "化学药品原料药制造",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("271-001-02", 1500, 4000, SLUDGE, DRUM),
            w("900-402-06", 800, 2000, LIQUID, DRUM),
        ],
    },
    Generator {
        name: "常州安驰汽车维修有限公司",
        short: "常州安驰汽车维修",
        region: ZHONGLOU,
        industry: "汽车维修",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("900-214-08", 300, 900, LIQUID, DRUM),
            w("900-249-08", 100, 400, SOLID, BAG),
            w("900-041-49", 50, 150, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州顺骋汽车服务有限公司",
        short: "常州顺骋汽车服务",
        region: ZHONGLOU,
        industry: "汽车维修",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("900-214-08", 200, 700, LIQUID, DRUM),
            w("900-249-08", 80, 300, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州博远汽车销售服务有限公司",
        short: "常州博远汽车销售服务",
        region: ZHONGLOU,
        industry: "汽车销售与维修（4S店）",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("900-214-08", 400, 1200, LIQUID, DRUM),
            w("900-249-08", 150, 500, SOLID, BAG),
            w("900-252-12", 200, 600, SLUDGE, DRUM),
        ],
    },
    Generator {
        name: "常州德佑机动车维修有限公司",
        short: "常州德佑机动车维修",
        region: ZHONGLOU,
        industry: "汽车维修",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("900-214-08", 200, 600, LIQUID, DRUM),
            w("900-218-08", 50, 200, LIQUID, DRUM),
        ],
    },
    Generator {
        name: "常州捷程汽车修理有限公司",
        short: "常州捷程汽车修理",
        region: "320402",
        industry: "汽车维修",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("900-214-08", 150, 500, LIQUID, DRUM),
            w("900-249-08", 50, 200, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州岚湖医院",
        short: "常州岚湖医院",
        region: ZHONGLOU,
        industry: "医疗卫生",
        public_body: true,
        period_days: 7,
        ship_every: 1,
        wastes: &[
            w("841-001-01", 400, 900, SOLID, MEDICAL),
            w("841-002-01", 40, 120, SOLID, SHARPS),
            w("841-005-01", 10, 40, SOLID, BOX),
        ],
    },
    Generator {
        name: "常州禾心妇产医院",
        short: "常州禾心妇产医院",
        region: ZHONGLOU,
        industry: "医疗卫生",
        public_body: false,
        period_days: 7,
        ship_every: 1,
        wastes: &[
            w("841-001-01", 150, 400, SOLID, MEDICAL),
            w("841-003-01", 10, 40, SOLID, MEDICAL),
            w("841-002-01", 15, 50, SOLID, SHARPS),
        ],
    },
    Generator {
        name: "钟楼区澄湾社区卫生服务中心",
        short: "钟楼区澄湾社区卫生服务中心",
        region: ZHONGLOU,
        industry: "医疗卫生",
        public_body: true,
        period_days: 7,
        ship_every: 2,
        wastes: &[
            w("841-001-01", 30, 90, SOLID, MEDICAL),
            w("841-002-01", 5, 20, SOLID, SHARPS),
        ],
    },
    Generator {
        name: "常州钟楼宁康医院",
        short: "常州钟楼宁康医院",
        region: ZHONGLOU,
        industry: "医疗卫生",
        public_body: true,
        period_days: 7,
        ship_every: 1,
        wastes: &[
            w("841-001-01", 250, 700, SOLID, MEDICAL),
            w("841-004-01", 20, 60, LIQUID, BOX),
            w("841-002-01", 30, 90, SOLID, SHARPS),
        ],
    },
    Generator {
        name: "常州睿齿口腔门诊部有限公司",
        short: "常州睿齿口腔门诊部",
        region: ZHONGLOU,
        industry: "医疗卫生",
        public_body: false,
        period_days: 7,
        ship_every: 2,
        wastes: &[
            w("841-001-01", 10, 40, SOLID, MEDICAL),
            w("841-002-01", 3, 10, SOLID, SHARPS),
        ],
    },
    Generator {
        name: "常州澜彩印务有限公司",
        short: "常州澜彩印务",
        region: ZHONGLOU,
        industry: "包装印刷",
        public_body: false,
        period_days: 30,
        ship_every: 1,
        wastes: &[
            w("900-253-12", 600, 1800, SLUDGE, DRUM),
            w("900-402-06", 400, 1200, LIQUID, DRUM),
            w("900-041-49", 100, 300, SOLID, BAG),
        ],
    },
    Generator {
        name: "常州澄源检测技术有限公司",
        short: "常州澄源检测技术",
        region: ZHONGLOU,
        industry: "检验检测",
        public_body: false,
        period_days: 30,
        ship_every: 2,
        wastes: &[
            w("900-047-49", 80, 300, LIQUID, BOX),
            w("900-041-49", 30, 100, SOLID, BAG),
        ],
    },
];

pub const CARRIERS: &[Carrier] = &[
    Carrier {
        name: "常州岚通危险货物运输有限公司",
        short: "常州岚通危险货物运输",
        region: ZHONGLOU,
        plates: &["苏D·8K271", "苏D·8K305", "苏D·9F112", "苏D·9F388"],
    },
    Carrier {
        name: "常州驰澄物流有限公司",
        short: "常州驰澄物流",
        region: "320412",
        plates: &["苏D·6A053", "苏D·6A217", "苏D·7C940"],
    },
    Carrier {
        name: "常州康途医疗废物运输有限公司",
        short: "常州康途医疗废物运输",
        region: "320411",
        plates: &["苏D·5Y016", "苏D·5Y029"],
    },
];

/// Indexes into [`RECEIVERS`], named for the plan's routing.
pub const INCINERATOR: usize = 0;
pub const MEDICAL_PLANT: usize = 1;
pub const OIL_RECYCLER: usize = 2;
pub const METAL_RECYCLER: usize = 3;
/// A collector (收集单位): it collects small workshops' waste oil, stores it and ships it on to
/// the incinerator on onward manifests; it utilises and disposes of nothing itself.
pub const COLLECTOR: usize = 4;

const ALL_INDUSTRIAL: &[&str] = &[
    "HW02", "HW06", "HW08", "HW11", "HW12", "HW13", "HW17", "HW22", "HW29", "HW34", "HW35", "HW45",
    "HW49", "HW50",
];

pub const RECEIVERS: &[Receiver] = &[
    Receiver {
        name: "常州清垣环境科技有限公司",
        short: "常州清垣环境科技",
        region: "320411",
        licence: "JS0411OOD901-4",
        capacity_t: 30_000,
        valid_from_days: -1_000,
        valid_until_days: 825,
        scopes: &[(ALL_INDUSTRIAL, &["collect", "store", "dispose"])],
    },
    Receiver {
        name: "常州康净医疗废物处置有限公司",
        short: "常州康净医疗废物处置",
        region: "320412",
        licence: "JS0412OOD902-3",
        capacity_t: 5_000,
        // Renewed (延续) during the year: see the plan.
        valid_from_days: -1_630,
        valid_until_days: 1_660,
        scopes: &[(&["HW01"], &["collect", "store", "dispose"])],
    },
    Receiver {
        name: "常州润源再生资源有限公司",
        short: "常州润源再生资源",
        region: "320411",
        licence: "JS0411OOD903-2",
        capacity_t: 10_000,
        valid_from_days: -700,
        valid_until_days: 1_125,
        scopes: &[(&["HW08"], &["collect", "store", "utilize"])],
    },
    Receiver {
        name: "常州铜鑫金属回收利用有限公司",
        short: "常州铜鑫金属回收利用",
        region: "320412",
        licence: "JS0412OOD904-1",
        capacity_t: 15_000,
        // Expires soon, so the console has a licence to warn about.
        valid_from_days: -1_800,
        valid_until_days: 25,
        scopes: &[
            (
                &[
                    "336-052-17",
                    "336-054-17",
                    "336-063-17",
                    "336-064-17",
                    "336-066-17",
                    "398-004-22",
                    "398-005-22",
                    "398-051-22",
                ],
                &["store", "utilize"],
            ),
            (&["HW34"], &["store", "utilize"]),
        ],
    },
    Receiver {
        name: "常州集源危险废物收集有限公司",
        short: "常州集源危险废物收集",
        region: ZHONGLOU,
        licence: "JS0404OOC905-1",
        capacity_t: 2_000,
        valid_from_days: -400,
        valid_until_days: 1_400,
        scopes: &[(&["HW08"], &["collect", "store"])],
    },
];

/// `prefix` + region + `mark` + a 4-digit number + check character: 17 + 1 characters.
fn code_with(prefix: &str, region: &str, mark: &str, n: usize) -> String {
    OrgId::with_check(&format!("{prefix}{region}{mark}{n:04}"))
        .expect("the demo's codes use only code characters")
        .as_str()
        .to_owned()
}

impl Carrier {
    pub fn org(&self, index: usize) -> String {
        code_with("91", self.region, "MA1DN", index + 1)
    }
}

impl Receiver {
    pub fn org(&self, index: usize) -> String {
        code_with("91", self.region, "MA1DP", index + 1)
    }
}

impl Generator {
    /// Companies carry 91 and a registration number of the MA series; public institutions 12.
    pub fn org(&self, index: usize) -> String {
        if self.public_body {
            code_with("12", self.region, "MB1DM", index + 1)
        } else {
            code_with("91", self.region, "MA1DM", index + 1)
        }
    }
}
