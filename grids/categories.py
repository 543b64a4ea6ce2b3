"""The default incident categories (事件分类), after CJ/T 214 / GB/T 30428 plus community ones.

Codes are numeric strings of five digits: the family (1 部件 component, 2 事件 event,
3 community), the major class (大类, two digits) and the minor class (小类, two
digits), so ``10101`` is component / 公用设施 / 上水井盖.  Time limits are in hours
and priorities run from 1 (most urgent) to 5.  Deployments change them in the
``incident_category`` table; this module only seeds it.

A grid worker's 反馈 (resolve) always needs a note; the hazards to life below need a photo
and an accepted check-in on site too (:data:`PROOF_ON_SITE`; ``wangge categories proof``
changes it per category).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Category:
    """One incident category with its default time limit (hours) and priority (1 = urgent)."""

    code: str
    name: str
    family: str
    group_name: str
    time_limit_hours: int
    priority: int
    #: the proof a grid worker's 反馈 needs besides the note: a photo, an accepted check-in
    proof_photo: bool = False
    proof_checkin: bool = False


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    # 部件 components: a broken thing with a place
    Category("10101", "井盖破损缺失", "component", "公用设施", 24, 2),
    Category("10102", "路灯损坏", "component", "公用设施", 72, 3),
    Category("10103", "消防栓损坏", "component", "公用设施", 48, 2),
    Category("10201", "交通护栏损坏", "component", "道路交通", 72, 3),
    Category("10202", "道路破损坑洼", "component", "道路交通", 72, 3),
    Category("10301", "垃圾箱破损满溢", "component", "市容环境", 24, 4),
    Category("10302", "公厕设施损坏", "component", "市容环境", 48, 4),
    Category("10401", "行道树倒伏缺损", "component", "园林绿化", 48, 3),
    Category("10402", "绿地破坏", "component", "园林绿化", 120, 4),
    Category("10501", "违章建筑", "component", "房屋土地", 240, 3),
    # 事件 events: something happening
    Category("20101", "暴露垃圾", "event", "市容环境", 24, 4),
    Category("20102", "占道经营", "event", "市容环境", 24, 3),
    Category("20201", "违规张贴小广告", "event", "宣传广告", 48, 5),
    Category("20301", "施工扰民", "event", "施工管理", 24, 3),
    Category("20302", "渣土撒漏", "event", "施工管理", 24, 3),
    Category("20401", "道路积水", "event", "突发事件", 4, 1),
    Category("20402", "火情", "event", "突发事件", 1, 1),
    Category("20501", "乱停乱放", "event", "街面秩序", 24, 4),
    Category("20502", "噪声扰民", "event", "街面秩序", 24, 4),
    # community: the community's own
    Category("30101", "邻里纠纷", "community", "矛盾纠纷", 72, 3),
    Category("30201", "消防通道堵塞", "community", "安全隐患", 24, 2),
    Category("30202", "燃气隐患", "community", "安全隐患", 4, 1),
    Category("30203", "危房隐患", "community", "安全隐患", 24, 1),
    Category("30301", "独居老人关爱", "community", "特殊人群", 24, 2),
    Category("30401", "楼道设施报修", "community", "报事报修", 72, 4),
    Category("30402", "电梯故障", "community", "报事报修", 12, 2),
)

#: Physical hazards to life (fire, gas, a dangerous building, a blocked fire lane, a broken
#: hydrant, flooding): their 反馈 needs a photo and an accepted check-in on site.
PROOF_ON_SITE = frozenset({"10103", "20401", "20402", "30201", "30202", "30203"})
DEFAULT_CATEGORIES = tuple(
    replace(c, proof_photo=True, proof_checkin=True) if c.code in PROOF_ON_SITE else c
    for c in DEFAULT_CATEGORIES
)

CATEGORY_BY_CODE: dict[str, Category] = {c.code: c for c in DEFAULT_CATEGORIES}
