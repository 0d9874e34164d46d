// Words the console shows: problem codes (protocol §3, §9) in Chinese, and the names of
// statuses, kinds, roles and event types. One place, so that a new code or kind of the protocol
// is one line here.

export const PROBLEMS = {
  invalid_event: '提交的内容格式不正确',
  duplicate_event_id: '该事件编号已被另一条不同的记录使用',
  unknown_key: '该密钥未登记到此单位，或不是该单位的密钥',
  revoked_key: '该密钥已被吊销，不能再签名',
  bad_signature: '签名验证失败',
  bad_timestamp: '时间不在允许范围内（不得晚于账本时钟 5 分钟，也不得早于允许的补录期限；同一联单或问题的时间不得倒退）',
  forbidden: '无权进行此操作',
  invalid_org_id: '统一社会信用代码无效（格式或校验位错误）',
  org_exists: '该单位已登记',
  key_in_use: '该公钥已属于某个单位',
  last_key: '不能吊销本单位最后一个有效密钥',
  not_a_receiver: '该单位不具有接收单位角色',
  not_a_carrier: '承运单位不具有运输单位角色',
  license_exists: '该许可证编号已存在',
  unknown_waste_code: '废物代码不在现行《国家危险废物名录》中',
  unknown_license: '许可证不存在',
  unknown_org: '单位不存在',
  unknown_manifest: '联单不存在',
  unknown_ticket: '问题不存在',
  unknown_method: '利用/处置方式代码无效',
  invalid_transition: '当前状态下不能进行此操作',
  manifest_exists: '联单编号已存在',
  unlicensed_receiver: '接收单位没有覆盖该废物的有效经营许可证',
  capacity_exceeded: '超出年经营规模（许可能力）',
  insufficient_stock: '库存不足',
  lines_mismatch: '明细与联单不一致：每个废物代码须且仅须填写一行',
  over_received: '数量超过实际接收量',
  ticket_exists: '问题编号已存在',
  bad_date: '日期无效（不得晚于当天，也不得早于允许的补录期限）',
  unknown_facility: '设施不存在、已关闭，或不是本单位该类设施（贮存须为贮存设施，自行利用/处置须为利用或处置设施）',
  facility_exists: '该单位已登记过这个设施编码（关闭后也不能重复使用）',
  bad_capacity: '设施能力无效（贮存点最多贮存 3 吨，GB 18597-2023）',
  method_not_allowed: '该设施不允许此利用/处置方式（方式须属于设施类别，且在设施登记的方式之内；贮存设施不登记方式）',
  bad_container_id: '容器识别码无效（须为 37 位：包装单位统一社会信用代码 18 位、废物代码 8 位、包装日期 8 位、序号 3 位，且与申报单位、废物代码、日期一致）',
  container_exists: '容器识别码已在账本中使用，或本次重复填写',
  containers_mismatch: '容器与联单或数量不一致（容器须为联单所列，数量合计须等于该行数量；起运须扫描联单全部容器）',
  unknown_container: '容器不存在',
  container_unavailable: '容器不在本单位库存中、已被其他联单预留，或废物代码不符',
  report_mismatch: '申报报表与账本不一致，请重新生成后再签名',
  invalid_policy: '见证人策略无效',
  quantity_too_large: '数量过大：合计将超出账本可记录的上限（2^53−1 克）',
  quorum_not_met: '尚无满足见证人数的检查点',
  not_found: '未找到，或无权查看',
  body_too_large: '提交内容过大（上限 1 MiB）',
  unsupported_media_type: '提交内容类型不正确',
  invalid_query: '查询条件无效',
  token_missing: '缺少访问令牌，请重新登录',
  token_malformed: '访问令牌格式错误',
  token_expired: '访问令牌已过期或本机时钟不准，请校准时间后重新登录',
  token_lifetime: '访问令牌有效期不被允许',
  token_audience: '访问令牌不是为本账本签发的',
  token_algorithm: '访问令牌算法不是 EdDSA',
  token_signature: '访问令牌签名无效',
  token_key: '该密钥不是此单位的有效密钥（未登记、已吊销，或属于其他单位）',
  internal: '服务内部错误，请稍后重试或联系管理员',
  unavailable: '服务暂不可用',
  overloaded: '服务繁忙，请稍后再试',
  network: '无法连接服务，请检查网络',
};

/** "中文含义（code）" for a problem, as every error is shown. */
export function problemText(code, fallback) {
  const zh = PROBLEMS[code] || fallback || '操作失败';
  return code ? `${zh}（${code}）` : zh;
}

export const ROLES = {
  regulator: '生态环境局',
  generator: '产废单位',
  carrier: '运输单位',
  receiver: '接收单位',
};

export const MANIFEST_STATUS = {
  opened: '已开单',
  cancelled: '已作废',
  picked_up: '运输中',
  received: '已接收',
  rejected: '已拒收',
  disposed: '已利用/处置',
  stored: '已贮存',
};

export const TICKET_STATUS = {
  open: '已立案',
  assigned: '已交办',
  rectified: '已整改',
  closed: '已销号',
};

export const TICKET_KINDS = {
  quantity_shortfall: '数量短缺',
  unlicensed_receipt: '无证接收',
  unlicensed_handling: '无证利用/处置',
  transit_overdue: '运输超期',
  disposal_overdue: '处置超期',
  storage_overdue: '贮存超期',
  disposal_short: '利用处置量少于接收量',
  storage_over_capacity: '贮存超能力',
  unplanned_transfer: '计划外转移',
  plan_exceeded: '超计划产生',
  plan_missing: '未备案管理计划',
  declaration_overdue: '逾期未申报',
  reported_dumping: '偷倒偷排（举报）',
  illegal_dumping: '非法倾倒',
  illegal_storage: '非法贮存',
  other: '其他',
};

/** The six improper kinds of protocol §7, in its order. */
export const IMPROPER_KINDS = [
  'quantity_shortfall', 'unlicensed_receipt', 'unlicensed_handling',
  'transit_overdue', 'disposal_overdue', 'storage_overdue',
];

/**
 * The six compliance kinds of protocol §7, in its order: duties missed (plans, declarations,
 * disposal and storage figures), not waste lost; they do not change the rate.
 */
export const COMPLIANCE_KINDS = [
  'disposal_short', 'storage_over_capacity', 'unplanned_transfer',
  'plan_exceeded', 'plan_missing', 'declaration_overdue',
];

/** Management classes (管理类别, HJ 1259-2022 4.2). */
export const MANAGEMENT_CLASSES = { key: '重点监管', simplified: '简化管理', registered: '登记管理' };

/** The periods each class declares (protocol §6 Declarations). */
export const CLASS_PERIODS = { key: '按月、按年申报', simplified: '按季、按年申报', registered: '按年申报' };

/** An org's `class` view ({year, class, set}) as "重点监管（由监管部门认定）". */
export function classText(c) {
  if (!c) return '—';
  return `${label(MANAGEMENT_CLASSES, c.class)}（${c.set ? '由监管部门认定' : '按规则推定'}）`;
}

export const LICENCE_STATUS = { active: '有效', suspended: '暂停', revoked: '已吊销' };

export const ACTIVITIES = { collect: '收集', store: '贮存', utilize: '利用', dispose: '处置' };

export const EVENT_TYPES = {
  'ledger.genesis': '账本创建',
  'ledger.limits_set': '修改期限参数',
  'org.registered': '单位登记',
  'org.key_added': '添加密钥',
  'org.key_revoked': '吊销密钥',
  'license.issued': '核发许可证',
  'license.amended': '变更许可证',
  'license.suspended': '暂停许可证',
  'license.reinstated': '恢复许可证',
  'license.revoked': '吊销许可证',
  'waste.declared': '申报登记',
  'manifest.opened': '开具联单',
  'manifest.cancelled': '作废联单',
  'manifest.picked_up': '运输单位接收（起运）',
  'manifest.received': '接收单位签收',
  'manifest.rejected': '拒收',
  'manifest.disposed': '利用/处置',
  'ticket.opened': '立案',
  'ticket.assigned': '交办',
  'ticket.rectified': '整改',
  'ticket.returned': '退回整改',
  'ticket.closed': '销号',
  'ticket.reopened': '重新打开',
  'ledger.witnesses_set': '设置见证人',
  'org.class_set': '设定管理类别',
  'facility.registered': '设施登记',
  'facility.amended': '设施变更',
  'facility.closed': '设施关闭',
  'waste.treated': '自行利用/处置',
  'manifest.stored': '接收单位入库贮存',
  'plan.filed': '管理计划备案',
  'declaration.filed': '申报',
};

export const FACILITY_KINDS = { storage: '贮存设施', utilize: '利用设施', dispose: '处置设施' };

export const STORAGE_TYPES = {
  warehouse: '贮存库', yard: '贮存场', pool: '贮存池', tank_farm: '贮存罐区', point: '贮存点',
};

export const FACILITY_STATUS = { active: '使用中', closed: '已关闭' };

export const CONTAINER_STATUS = {
  in_stock: '在库',
  reserved: '已预留（已开联单）',
  shipped: '运输中',
  received: '已接收',
  missing: '缺失（签收时未见）',
  treated: '已自行利用/处置',
};

export function label(map, key) {
  return (key && map[key]) || key || '';
}
