"""The labels of the values a form's choice fields take, in zh and en, for the web to show
("lost" is 挂失补办, not lost)."""

CHOICE_LABELS: dict[str, tuple[str, str]] = {
    # decisions
    "approve": ("同意", "Approve"),
    "reject": ("驳回", "Reject"),
    # identity documents
    "resident_id": ("居民身份证", "Resident ID card"),
    "passport": ("护照", "Passport"),
    "other": ("其他证件", "Other document"),
    # reissue
    "lost": ("遗失", "Lost"),
    "damaged": ("损坏", "Damaged"),
    "in_person": ("本人办理", "The holder comes"),
    "delegated": ("他人代办", "A delegate comes"),
    "holder_id": ("持卡人有效证件", "The holder's valid ID"),
    "written_delegation": ("委托证明", "Written delegation"),
    # leaving and termination
    "withdrawn": ("退学", "Withdrawn"),
    "left": ("离职", "Left the university"),
    "stay_ended": ("临时工作结束", "Temporary stay ended"),
    "graduated": ("毕业", "Graduated"),
    "breach": ("违规使用", "Breach of the rules"),
    "missing": ("失踪", "Missing"),
    "deceased": ("死亡", "Deceased"),
    # merchants
    "new": ("新商户接入", "New merchant"),
    "add_terminals": ("增加终端", "More terminals"),
    "move_terminals": ("终端迁移", "Move terminals"),
    "canteen": ("食堂", "Canteen"),
    "shop": ("商店", "Shop"),
    "library": ("图书馆", "Library"),
    "hospital": ("校医院", "Clinic"),
    "bus": ("校车", "Campus bus"),
    "bathhouse": ("浴室", "Bathhouse"),
    "water": ("水控", "Water controller"),
    "service": ("服务", "Service"),
    "pos": ("POS 机", "POS terminal"),
    "shower": ("淋浴控制器", "Shower controller"),
}


def choice_label(value: str, lang: str = "zh") -> str:
    """The label of a choice value in `lang`, else the value itself."""
    labels = CHOICE_LABELS.get(str(value))
    if labels is None:
        return str(value)
    return labels[1] if lang == "en" else labels[0]
